// `stackseam dev` pointed at services it does not run (docs/local-development.md): your own
// PostgreSQL through DATABASE_URL and an SQS/S3 endpoint through AWS_ENDPOINT_URL (here a fauxqs
// started by the test), started from a folder that is not the repository, with an empty specs
// folder that is then edited live. Also the ways dev refuses to start.
import { mkdir, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GetQueueUrlCommand,
  ListQueuesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, eventually } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { type FauxqsServer, startLoopbackFauxqs } from "../src/dev/loopback-fauxqs.js";
import { freePort } from "../src/dev/ports.js";
import { BIN, spawnProgram, stackseam, terminalEnv } from "./support/cli.js";

const WITH_WARNING = `version: 1
events: [LAUNCH, TOUCH]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
`;

const MINIMAL = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
`;

const INVALID = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LANCH: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
`;

describe("stackseam dev with DATABASE_URL and AWS_ENDPOINT_URL", { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let outside: FauxqsServer;
  let work: string;

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    outside = await startLoopbackFauxqs({ port: 0, logger: false });
    work = await mkdtemp(join(tmpdir(), "stackseam-dev-outside-"));
  });

  afterAll(async () => {
    await outside?.stop();
    await db?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("uses them, says where everything is, reloads spec edits live, and retries what the database refuses", async () => {
    const project = join(work, "project");
    const specs = join(project, "specs");
    const dataDir = join(work, "data");
    await mkdir(specs, { recursive: true });
    const dev = spawnProgram(
      process.execPath,
      [BIN, "dev", "--data-dir", dataDir, "--specs", "specs", "--functions", "no-functions"],
      {
        cwd: project,
        env: terminalEnv({
          DATABASE_URL: db.url,
          AWS_ENDPOINT_URL: outside.address,
          TERRAFORM_BIN: join(work, "no-such-terraform"),
          HEARTBEAT_INTERVAL_SECONDS: "5",
          TERRAFORM_DEADLINE_MARGIN_MS: "soon",
          STACKSEAM_DEV_SCHEDULES: "off",
        }),
      },
    );
    try {
      const state = await eventually("dev ready", async () => {
        if (/\bready\b/.test(dev.output())) return "ready";
        return dev.child.exitCode !== null ? "exited" : undefined;
      });
      if (state === "exited") throw new Error(`dev exited before ready:\n${dev.output()}`);
      const out = dev.output();
      expect(out).toContain(`functions folder ${join(project, "no-functions")} does not exist`);
      expect(out).toContain(
        'TERRAFORM_DEADLINE_MARGIN_MS must be a whole number, not "soon": the default applies',
      );
      expect(out).toMatch(/database +DATABASE_URL \(127\.0\.0\.1:5432\)/);
      expect(out).toContain(`SQS + S3    ${outside.address} (from AWS_ENDPOINT_URL)`);
      expect(out).toMatch(/terraform +not found: terraform tasks will fail/);
      expect(out).toMatch(/specs +specs \(no specs yet; edits reload live\)/);
      expect(out).toContain("--machine <machine>");
      // No stackseam bin under this folder: the banner's commands go through npm, with the data dir.
      expect(out).toContain(`STACKSEAM_DATA_DIR=${dataDir} npm run -s stackseam -- send feature-1 LAUNCH`);
      // The outside endpoint got dev's queues.
      const sqs = new SQSClient({
        endpoint: outside.address,
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      });
      try {
        const urls = (await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
        expect(urls.map((u) => u.slice(u.lastIndexOf("/") + 1)).sort()).toEqual([
          "stackseam-events",
          "stackseam-events-dlq",
          "stackseam-tasks",
          "stackseam-tasks-dlq",
        ]);
      } finally {
        sqs.destroy();
      }

      await writeFile(join(specs, "warned.yml"), WITH_WARNING);
      await eventually("spec loaded with a warning", async () =>
        /spec warned: loaded with 1 warning\(s\)/.test(dev.output()) ? true : undefined,
      );
      expect(dev.output()).toMatch(/event "TOUCH" is declared but no state handles it/);

      await writeFile(join(specs, "broken.yml"), INVALID);
      await eventually("invalid spec refused", async () =>
        /spec broken: invalid, its events will be refused/.test(dev.output()) ? true : undefined,
      );

      await writeFile(join(specs, "warned.yml"), INVALID);
      await eventually("bad edit keeps the last good version", async () =>
        /spec warned: invalid edit, the last good version keeps serving/.test(dev.output())
          ? true
          : undefined,
      );

      await unlink(join(specs, "warned.yml"));
      await eventually("spec removed", async () =>
        /spec warned: removed/.test(dev.output()) ? true : undefined,
      );

      // One machine in two files: neither is chosen, and dev says why.
      await writeFile(join(specs, "twice.yml"), MINIMAL);
      await writeFile(join(specs, "twice.yaml"), MINIMAL);
      await eventually("ambiguous spec refused", async () =>
        /spec twice: invalid, its events will be refused\n[^\n]* {2}[^\n]*twice\.ya?ml, [^\n]*twice\.ya?ml: machine twice is ambiguous: both [^\n]*twice\.yml, [^\n]*twice\.yaml exist/.test(
          dev.output(),
        )
          ? true
          : undefined,
      );

      // A database that refuses one stack's writes: that event is left on the queue for a retry,
      // the other stacks' events go through.
      await writeFile(join(specs, "ok.yml"), MINIMAL);
      await eventually("spec ok loaded", async () =>
        /spec ok: loaded/.test(dev.output()) ? true : undefined,
      );
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await client.query(`
          CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'test: writes for % refused', NEW.stack_id; END $$;
          CREATE TRIGGER refuse_bad BEFORE INSERT ON history
            FOR EACH ROW WHEN (NEW.stack_id LIKE 'bad-%') EXECUTE FUNCTION refuse_bad();`);
      } finally {
        await client.end();
      }
      const sqs2 = new SQSClient({
        endpoint: outside.address,
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      });
      try {
        const queueUrl = (await sqs2.send(new GetQueueUrlCommand({ QueueName: "stackseam-events" })))
          .QueueUrl;
        await sqs2.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: ["good-1", "bad-1"].map((stackId) => ({
              Id: stackId,
              MessageBody: JSON.stringify({ stackId, event: "LAUNCH", machine: "ok" }),
            })),
          }),
        );
        await eventually("good-1 applied, bad-1 returned", async () =>
          /good-1 +INIT → GONE/.test(dev.output()) &&
          /bad-1 +record failed; returned to the queue for retry: test: writes for bad-1 refused/.test(
            dev.output(),
          )
            ? true
            : undefined,
        );
        // Alone, the refused event fails its whole batch.
        await sqs2.send(
          new SendMessageCommand({
            QueueUrl: queueUrl,
            MessageBody: JSON.stringify({ stackId: "bad-2", event: "LAUNCH", machine: "ok" }),
          }),
        );
        await eventually("bad-2 batch failed", async () =>
          /bad-2 +record failed; returned to the queue for retry: test: writes for bad-2 refused\n[^\n]*State Manager batch failed, will be retried/.test(
            dev.output(),
          )
            ? true
            : undefined,
        );
        expect(dev.output()).not.toMatch(/bad-[12] +INIT → GONE/);
      } finally {
        sqs2.destroy();
      }

      dev.child.kill("SIGTERM");
      const exit = await dev.exited;
      expect(exit.code).toBe(0);
      expect(dev.output()).toMatch(/\bstopped\b/);
    } finally {
      if (dev.child.exitCode === null) dev.child.kill("SIGKILL");
    }
  });

  it("an outside endpoint that does not answer stops startup; STACKSEAM_DEBUG adds the cause", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const r = await stackseam(["dev", "--data-dir", join(work, "dead"), "--specs", "examples/specs"], {
      DATABASE_URL: db.url,
      AWS_ENDPOINT_URL: dead,
      STACKSEAM_DEBUG: "1",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`stackseam dev: could not create the queues and bucket at ${dead}`);
    expect(r.stderr).toMatch(/\n {2}cause: /);
  });

  it("a cluster whose pg.json is gone is refused before anything else starts", async () => {
    const dataDir = join(work, "lost-state");
    await mkdir(join(dataDir, "pg"), { recursive: true });
    await writeFile(join(dataDir, "pg", "PG_VERSION"), "17\n");
    const r = await stackseam(["dev", "--data-dir", dataDir, "--specs", "examples/specs"], {
      AWS_ENDPOINT_URL: outside.address,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dataDir, "pg.json")} (the cluster's port and password) is missing`);
  });

  it("a --specs that is not a folder is refused", async () => {
    const r = await stackseam(["dev", "--data-dir", join(work, "nospecs"), "--specs", join(work, "nope")], {
      DATABASE_URL: db.url,
      AWS_ENDPOINT_URL: outside.address,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the specs folder ${join(work, "nope")} is not a folder (see --specs)`);
  });

  it("usage errors exit 2: a stray argument, a port out of range", async () => {
    const stray = await stackseam(["dev", "extra"]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('stackseam dev: unexpected argument "extra"');
    const port = await stackseam(["dev", "--port", "70000"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('--port must be a port number (0 for any free port), not "70000"');
  });
});
