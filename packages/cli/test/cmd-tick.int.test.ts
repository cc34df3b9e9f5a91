// `stackseam tick` in-process (docs/cli.md "tick"): specs read from a bucket, task messages left
// unsent re-sent (a note) or still not sent (a problem, exit 1), and the running dev's database,
// queue and specs used when no flag names them.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { parseSpec } from "@stackseam/core";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as tick } from "../src/commands/tick.js";
import { standInForDev } from "./support/dev-file.js";
import { runInProcess } from "./support/in-process.js";

const SPEC = `version: 1
events: [LAUNCH, STOP, DESTROY]
schedules:
  - name: nightly
    cron: "0 3 * * *"
    event: STOP
    states: [RUN]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: RUN }] } }
  RUN: { on: { STOP: [{ action: advance, state: HALTED }] } }
  HALTED: { on: { LAUNCH: [{ action: advance, state: RUN }], DESTROY: [{ action: advance, state: GONE }] } }
  GONE: { terminal: true }
`;
const machine = parseSpec(SPEC, { name: "night" }).machine!;

const SUMMARY = /^tick: .* in \d+ ms$/;

describe("stackseam tick: specs in a bucket, unsent messages, failures, dev", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let aws: TestAws;
  let work: string;
  let specsDir: string;
  let client: pg.Client;

  beforeAll(async () => {
    [db, aws] = await Promise.all([createTestDatabase(), startTestAws()]);
    work = await mkdtemp(join(tmpdir(), "stackseam-cmd-tick-"));
    specsDir = join(work, "specs");
    await mkdir(specsDir);
    await writeFile(join(specsDir, "night.yml"), SPEC);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: "specs/night.yml", Body: SPEC }));
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("INSERT INTO machine_versions (machine, version, source) VALUES ('night', $1, $2)", [
      machine.version,
      SPEC,
    ]);
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    for (const name of [
      "DATABASE_URL",
      "MACHINE_SPEC_DIR",
      "MACHINE_S3_BUCKET",
      "MACHINE_S3_KEY",
      "SQS_TASK_QUEUE_URL",
    ])
      vi.stubEnv(name, undefined);
    for (const [k, v] of Object.entries(aws.env)) if (k !== "SQS_TASK_QUEUE_URL") vi.stubEnv(k, v);
  });

  beforeEach(async () => {
    await client.query("DELETE FROM outbox; DELETE FROM timers; DELETE FROM schedules; DELETE FROM stacks");
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await client?.end();
    await aws?.stop();
    await db?.drop();
    if (work) await removeDir(work);
  });

  async function stateOf(id: string): Promise<string | undefined> {
    const { rows } = await client.query<{ state: string }>("SELECT state FROM stacks WHERE id = $1", [id]);
    return rows[0]?.state;
  }

  it("reads the schedules from MACHINE_S3_BUCKET/MACHINE_S3_KEY and fires a due occurrence", async () => {
    await client.query(
      "INSERT INTO stacks (id, machine, version, state, entry) VALUES ('s3-run', 'night', $1, 'RUN', 1)",
      [machine.version],
    );
    await client.query(
      `INSERT INTO schedules (machine, name, cron, timezone, event, states, next_at)
       VALUES ('night', 'nightly', '0 3 * * *', 'UTC', 'STOP', ARRAY['RUN'], '2026-01-01T03:00:00Z')`,
    );
    vi.stubEnv("MACHINE_S3_BUCKET", aws.bucket);
    vi.stubEnv("MACHINE_S3_KEY", "specs/");
    try {
      const r = await runInProcess(tick, ["--database-url", db.url, "--task-queue-url", aws.taskQueueUrl]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(
        /^schedule night\/nightly: occurrence 2026-01-01T03:00:00\.000Z fired; next /m,
      );
      expect(await stateOf("s3-run")).toBe("HALTED");
    } finally {
      vi.stubEnv("MACHINE_S3_BUCKET", undefined);
      vi.stubEnv("MACHINE_S3_KEY", undefined);
    }
  });

  it("a bucket that cannot be listed fails the tick (exit 1) and says where it looked", async () => {
    const r = await runInProcess(tick, [
      "--database-url",
      db.url,
      "--task-queue-url",
      aws.taskQueueUrl,
      "--specs",
      specsDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    vi.stubEnv("MACHINE_S3_BUCKET", "no-such-bucket");
    try {
      const bad = await runInProcess(tick, ["--database-url", db.url, "--task-queue-url", aws.taskQueueUrl]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^stackseam tick: .*no-such-bucket/);
      expect(bad.stdout).toBe("");
    } finally {
      vi.stubEnv("MACHINE_S3_BUCKET", undefined);
    }
  });

  /** A task message written minutes ago and never sent (its event's sends all failed). */
  async function stuckMessage(stackId: string): Promise<void> {
    await client.query(
      "INSERT INTO stacks (id, machine, version, state, entry) VALUES ($1, 'night', $2, 'RUN', 1)",
      [stackId, machine.version],
    );
    await client.query(
      `INSERT INTO outbox (stack_id, task, token, body, created_at)
       VALUES ($1, 'apply', 'tok-1', '{"task":"apply"}', now() - interval '10 minutes')`,
      [stackId],
    );
  }

  it("re-sends task messages left unsent and notes it", async () => {
    await stuckMessage("stuck-1");
    const r = await runInProcess(tick, [
      "--database-url",
      db.url,
      "--task-queue-url",
      aws.taskQueueUrl,
      "--specs",
      specsDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toContain("note: re-sent task messages left unsent");
    expect(lines.at(-1)).toMatch(/, 1 task message re-sent in \d+ ms$/);
    const { rows } = await client.query("SELECT sent_at FROM outbox WHERE stack_id = 'stuck-1'");
    expect(rows[0].sent_at).not.toBeNull();
    const got = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.taskQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(got.Messages?.map((m) => m.Body)).toContain('{"task":"apply"}');
  });

  it("messages that still cannot be sent are a problem: exit 1, and --json lists it", async () => {
    await stuckMessage("stuck-2");
    const queue = `${aws.endpoint}/000000000000/no-such-queue`;
    const r = await runInProcess(tick, [
      "--database-url",
      db.url,
      "--task-queue-url",
      queue,
      "--specs",
      specsDir,
    ]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.some((l) => l.startsWith("problem: stuck task messages still not sent: "))).toBe(true);
    expect(lines.at(-1)).toMatch(SUMMARY);
    const json = await runInProcess(tick, [
      "--database-url",
      db.url,
      "--task-queue-url",
      queue,
      "--specs",
      specsDir,
      "--json",
    ]);
    expect(json.code).toBe(1);
    const out = JSON.parse(json.stdout) as { problems: string[]; outboxResent: number };
    expect(out.outboxResent).toBe(0);
    expect(out.problems).toEqual([expect.stringMatching(/^stuck task messages still not sent: /)]);
    const { rows } = await client.query("SELECT sent_at FROM outbox WHERE stack_id = 'stuck-2'");
    expect(rows[0].sent_at).toBeNull();
  });

  describe("with a running dev", () => {
    let dataDir: string;
    let devSpecs: string;

    beforeAll(async () => {
      dataDir = join(work, "dev-data");
      devSpecs = join(work, "dev-specs");
      await mkdir(dataDir);
      await mkdir(devSpecs);
      await writeFile(join(devSpecs, "night.yml"), SPEC);
      await standInForDev(dataDir, db.url, aws, devSpecs);
    });

    it("takes dev's database, task queue and specs when no flag or variable names them", async () => {
      await stuckMessage("dev-1");
      vi.stubEnv("STACKSEAM_DATA_DIR", dataDir);
      try {
        const r = await runInProcess(tick, []);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain("note: re-sent task messages left unsent");
        const { rows } = await client.query("SELECT sent_at FROM outbox WHERE stack_id = 'dev-1'");
        expect(rows[0].sent_at).not.toBeNull();
      } finally {
        vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
      }
    });

    it("dev's queue and specs are not used for another database", async () => {
      vi.stubEnv("STACKSEAM_DATA_DIR", dataDir);
      const other = await createTestDatabase();
      try {
        const r = await runInProcess(tick, ["--database-url", other.url]);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(
          "stackseam tick: no task queue: pass --task-queue-url or set SQS_TASK_QUEUE_URL (a timer may dispatch a task)\n",
        );
      } finally {
        await other.drop();
        vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
      }
    });
  });
});
