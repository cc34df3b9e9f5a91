import { randomUUID } from "node:crypto";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Message } from "@aws-sdk/client-sqs";
import type { Stack } from "@stackseam/core";
import {
  createStateManager,
  type Database,
  getHistory,
  getStack,
  localMachineSource,
  openDatabase,
  type StateManager,
} from "@stackseam/state-manager";
import type { SQSRecord } from "aws-lambda";
import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { drainQueue } from "../../../test/support/sqs.js";
import { run as specs } from "../src/commands/specs.js";
import { run as stacks } from "../src/commands/stacks.js";

/** A build machine; versions rename its working state and task. */
const spec = (task: string, state = "BUILD") => `version: 1
events: [LAUNCH, SHIP]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: ${state} }]
  ${state}:
    tasks: [${task}]
    on:
      NEXT: [{ action: advance, state: READY }]
  READY:
    on:
      SHIP: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  ${task}:
    executor: lambda
    config: { name: ${task} }
`;

function record(body: unknown, messageId: string = randomUUID()): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "0",
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:stackseam-events",
    awsRegion: "us-east-1",
  };
}

/** Runs a command in-process, capturing what it prints. */
async function cli(command: (args: string[]) => Promise<number>, ...args: string[]) {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  try {
    return { code: await command(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe("stacks upgrade, stacks show, specs versions and prune against a real State Manager", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dir: string;
  let dataDir: string;
  let db: Kysely<Database>;
  let sm: StateManager;
  let bump = 0;
  const source = () => localMachineSource({ dir });
  let machines: ReturnType<typeof source>;

  async function writeSpec(text: string): Promise<void> {
    const file = join(dir, "build.yml");
    await writeFile(file, text);
    // A later mtime than any earlier write, so the source sees the change at once.
    const later = new Date(Date.now() + 5_000 + ++bump * 1000);
    await utimes(file, later, later);
    await machines?.refresh();
  }

  async function deliver(...bodies: unknown[]): Promise<void> {
    const res = await sm.processRecords(bodies.map((b) => record(b)));
    expect(res.batchItemFailures).toEqual([]);
  }

  /** Delivers what is on the event queue (what the CLI sent) to the State Manager. */
  async function deliverQueued(): Promise<Message[]> {
    const messages = await drainQueue(aws.sqs, aws.eventQueueUrl);
    if (messages.length > 0) {
      const res = await sm.processRecords(messages.map((m) => record(m.Body ?? "", m.MessageId)));
      expect(res.batchItemFailures).toEqual([]);
    }
    return messages;
  }

  async function stack(id: string): Promise<Stack> {
    const s = await getStack(db, id);
    if (!s) throw new Error(`no stack ${id}`);
    return s;
  }

  async function complete(id: string): Promise<void> {
    const s = await stack(id);
    const task = s.tasks.find((t) => t.status !== "SATISFIED")!;
    await deliver({ stackId: id, event: "TASK_COMPLETED", task: task.name, token: task.token });
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    dir = await mkdtemp(join(tmpdir(), "stackseam-upgrade-specs-"));
    dataDir = await mkdtemp(join(tmpdir(), "stackseam-upgrade-data-"));
    await writeSpec(spec("compile"));
    machines = source();
    db = openDatabase(database.url, { max: 2, applicationName: "stackseam-test" });
    sm = createStateManager({
      db,
      sqs: aws.sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines,
      logger: new Logger({ serviceName: "stackseam-test", logLevel: "SILENT" }),
    });
    // The CLI finds everything through the environment (no dev: an empty data dir).
    vi.stubEnv("STACKSEAM_DATA_DIR", dataDir);
    for (const name of ["MACHINE_SPEC_DIR", "MACHINE_S3_BUCKET", "MACHINE_S3_KEY", "AWS_ENDPOINT_URL_SQS"])
      vi.stubEnv(name, undefined);
    for (const [k, v] of Object.entries(aws.env)) vi.stubEnv(k, v);
    vi.stubEnv("DATABASE_URL", database.url);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await sm?.close();
    await db?.destroy();
    await aws?.stop();
    await database?.drop();
    for (const d of [dir, dataDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it("checks with --dry-run (sends nothing), then upgrades the compatible stacks through the handler", async () => {
    await deliver(
      { stackId: "ready-1", event: "LAUNCH", machine: "build" },
      { stackId: "ready-2", event: "LAUNCH", machine: "build" },
      { stackId: "busy-1", event: "LAUNCH", machine: "build" },
      { stackId: "legacy-1", event: "LAUNCH", machine: "build" },
    );
    await complete("ready-1");
    await complete("ready-2");
    await complete("legacy-1");
    await drainQueue(aws.sqs, aws.taskQueueUrl);
    await sql`UPDATE stacks SET version = NULL WHERE id = 'legacy-1'`.execute(db);
    const v1 = (await stack("ready-1")).version;

    // v2 renames BUILD and its task: READY stacks can move, one in BUILD with compile pending cannot.
    await writeSpec(spec("compile-v2", "COMPILE"));
    const dry = await cli(stacks, "upgrade", "--machine", "build", "--dry-run", "--specs", dir);
    expect(dry.err).toBe("");
    expect(dry.code).toBe(1); // one stack cannot move
    const line = (id: string) => dry.out.split("\n").find((l) => l.startsWith(`${id} `)) ?? "";
    expect(line("ready-1")).toMatch(
      new RegExp(`READY\\s+${v1}\\s+[0-9a-f]{16}\\s+ok: would send UPGRADE_MACHINE`),
    );
    expect(line("busy-1")).toContain("cannot upgrade: state BUILD does not exist in version");
    expect(line("busy-1")).toContain("task compile (PENDING) is not defined in version");
    expect(line("legacy-1")).toContain("no version yet");
    expect(dry.out).toContain(
      "2 would be upgraded, 0 already current, 1 cannot upgrade, 1 without a version",
    );
    expect(await drainQueue(aws.sqs, aws.eventQueueUrl)).toEqual([]);

    const real = await cli(stacks, "upgrade", "--machine", "build", "--specs", dir);
    expect(real.code).toBe(1);
    expect(real.out).toContain("2 upgrade(s) sent");
    const sent = await deliverQueued();
    const bodies = sent
      .map((m) => JSON.parse(m.Body ?? "{}"))
      .sort((a, b) => (a.stackId < b.stackId ? -1 : 1));
    const v2Text = dry.out.match(/current version ([0-9a-f]{16})/)![1];
    expect(bodies).toEqual(
      ["ready-1", "ready-2"].map((id) => ({
        stackId: id,
        event: "UPGRADE_MACHINE",
        machine: "build",
        // LAUNCH entered BUILD (entry 1), NEXT entered READY (entry 2).
        eventId: `upgrade:${v1}:${v2Text}:2:${id}`,
      })),
    );
    for (const id of ["ready-1", "ready-2"]) {
      expect(await stack(id)).toMatchObject({ version: v2Text, state: "READY" });
      const last = (await getHistory(db, id)).at(-1);
      expect(last).toMatchObject({ event: "UPGRADE_MACHINE", outcome: "applied" });
      expect(last?.detail?.upgraded).toEqual({ from: v1, to: v2Text });
    }
    expect((await stack("busy-1")).version).toBe(v1);

    // Upgraded, the stack runs v2: SHIP is decided there; a second run finds nothing to do.
    const again = await cli(stacks, "upgrade", "ready-1", "--specs", dir);
    expect(again).toMatchObject({ code: 0 });
    expect(again.out).toMatch(/ready-1\s+build\s+READY.*already runs it/);
    expect(await drainQueue(aws.sqs, aws.eventQueueUrl)).toEqual([]);
  });

  it("gives one upgrade one event id: sent twice, it is applied once", async () => {
    await writeSpec(spec("compile"));
    await deliver({ stackId: "twice-1", event: "LAUNCH", machine: "build" });
    await complete("twice-1");
    await drainQueue(aws.sqs, aws.taskQueueUrl);
    await writeSpec(spec("compile-v3", "COMPILE3"));
    expect((await cli(stacks, "upgrade", "twice-1", "--specs", dir)).code).toBe(0);
    expect((await cli(stacks, "upgrade", "twice-1", "--specs", dir)).code).toBe(0);
    const sent = await deliverQueued();
    expect(sent).toHaveLength(2);
    const rows = (await getHistory(db, "twice-1")).filter((h) => h.event === "UPGRADE_MACHINE");
    expect(rows.map((h) => [h.outcome, h.duplicate])).toEqual([
      ["applied", false],
      ["ignored", true],
    ]);
  });

  it("stacks show prints the version and whether a newer one is in use", async () => {
    const busy = await cli(stacks, "show", "busy-1");
    const latest = (await stack("twice-1")).version;
    expect(busy.out).toContain(`Version   ${(await stack("busy-1")).version} (newer: ${latest}, first used `);
    expect(busy.out).toContain("stackseam stacks upgrade busy-1 --dry-run");
    expect((await cli(stacks, "show", "twice-1")).out).toContain(`Version   ${latest} (the newest in use)`);
    expect((await cli(stacks, "show", "legacy-1")).out).toContain("Version   (none yet");
    const json = JSON.parse((await cli(stacks, "show", "busy-1", "--json")).out);
    expect(json).toMatchObject({ version: (await stack("busy-1")).version, newerVersion: latest });
  });

  it("specs versions counts the stacks on each version and marks the current one", async () => {
    const v1 = (await stack("busy-1")).version;
    const v2 = (await stack("ready-1")).version;
    const v3 = (await stack("twice-1")).version;
    const r = await cli(specs, "versions", "build", "--specs", dir);
    expect(r).toMatchObject({ code: 0, err: "" });
    const row = (v: string) => r.out.split("\n").find((l) => l.startsWith(v)) ?? "";
    expect(row(v1)).toMatch(/\s1\s/); // busy-1 (legacy-1 has no version)
    expect(row(v2)).toMatch(/\s2\s/);
    expect(row(v3)).toMatch(/\s1\s+current\s/);
    expect(r.out).toContain("1 stack(s) have no version yet");
    const json = JSON.parse((await cli(specs, "versions", "build", "--specs", dir, "--json")).out);
    expect(json.current).toBe(v3);
    expect(json.versions.map((v: { version: string; stacks: number }) => [v.version, v.stacks])).toEqual([
      [v1, 1],
      [v2, 2],
      [v3, 1],
    ]);
  });

  it("says which options belong to which subcommand", async () => {
    const usage = async (command: (args: string[]) => Promise<number>, ...args: string[]) => {
      const r = await cli(command, ...args);
      expect(r.code, r.err).toBe(2);
      return r.err.split("\n")[0];
    };
    expect(await usage(specs, "versions", "build", "--force")).toBe(
      "stackseam specs: --force is for `specs push`",
    );
    expect(await usage(specs, "diff", "x.yml", "--min-age", "1h")).toBe(
      "stackseam specs: --min-age is for `specs prune`",
    );
    expect(await usage(specs, "prune", "build", "--min-age", "soon")).toContain(
      "--min-age must be a duration",
    );
    expect(await usage(stacks, "list", "--dry-run")).toBe(
      "stackseam stacks: --dry-run is for `stacks upgrade`",
    );
    expect(await usage(stacks, "upgrade", "busy-1", "--machine", "build")).toBe(
      "stackseam stacks: upgrade takes one stack id or --machine M (not both)",
    );
  });

  it("specs prune deletes only versions no stack runs, never the current or newest one", async () => {
    const v1 = (await stack("busy-1")).version;
    const v2 = (await stack("ready-1")).version;
    const v3 = (await stack("twice-1")).version;
    // Nothing runs v2 once its stacks are gone; v1 still has busy-1.
    await sql`DELETE FROM stacks WHERE id IN ('ready-1', 'ready-2')`.execute(db);
    const recent = await cli(specs, "prune", "build", "--specs", dir, "--dry-run");
    expect(recent.out).toMatch(new RegExp(`${v2}.*keep: replaced less than 1h ago`));
    expect(recent.out).toMatch(new RegExp(`${v1}.*keep: 1 stack\\(s\\) run it`));
    expect(recent.out).toContain("would delete 0 of 3");

    const dry = await cli(specs, "prune", "build", "--specs", dir, "--dry-run", "--min-age", "0s");
    expect(dry.out).toMatch(new RegExp(`${v2}.*would delete`));
    expect(dry.out).toMatch(new RegExp(`${v3}.*keep: current`));
    const stored = async () =>
      (await db.selectFrom("machine_versions").select("version").where("machine", "=", "build").execute())
        .map((r) => r.version)
        .sort();
    expect(await stored()).toEqual([v1, v2, v3].sort());

    const pruned = await cli(specs, "prune", "build", "--specs", dir, "--min-age", "0s");
    expect(pruned).toMatchObject({ code: 0 });
    expect(pruned.out).toContain("deleted 1 of 3");
    expect(await stored()).toEqual([v1, v3].sort());

    // With every stack gone, the current version stays; and when the current spec has not been used
    // yet, so does the newest one used.
    await sql`DELETE FROM stacks`.execute(db);
    await writeSpec(spec("compile-v4", "COMPILE4"));
    const last = await cli(specs, "prune", "build", "--specs", dir, "--min-age", "0s");
    expect(last.out).toMatch(new RegExp(`${v3}.*keep: newest used`));
    expect(await stored()).toEqual([v3]);
    await writeSpec(spec("compile-v3", "COMPILE3"));
    const current = await cli(specs, "prune", "build", "--specs", dir, "--min-age", "0s");
    expect(current.out).toMatch(new RegExp(`${v3}.*keep: current`));
    expect(await stored()).toEqual([v3]);
  });
});
