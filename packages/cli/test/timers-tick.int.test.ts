// `stackseam timers` and `stackseam tick` in-process against a seeded database, for what docs/cli.md
// promises beyond what time-data.int.test.ts drives through the bin: --limit and what stderr says
// when there are more, --local, timers being fired or of a removed stack, schedules, and the exit
// codes of usage and database errors.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSpec } from "@stackseam/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as tick } from "../src/commands/tick.js";
import { renderTimers, run as timers } from "../src/commands/timers.js";
import { runInProcess } from "./support/in-process.js";

const SPEC = `version: 1
events: [LAUNCH, DESTROY]
ttl: { idle: 3d, warn: 1d, event: DESTROY }
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: RUN }] } }
  RUN: { on: { DESTROY: [{ action: advance, state: GONE }] } }
  GONE: { terminal: true }
`;
const machine = parseSpec(SPEC, { name: "qa-env" }).machine!;
const HOUR = 3_600_000;

describe("stackseam timers and tick, in-process", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let bare: TestDatabase;
  let emptyDir: string;

  beforeAll(async () => {
    [db, bare] = await Promise.all([createTestDatabase(), createTestDatabase({ migrate: false })]);
    emptyDir = await mkdtemp(join(tmpdir(), "stackseam-timers-"));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const at = (h: number) => new Date(Date.now() + h * HOUR).toISOString();
      await client.query(
        "INSERT INTO machine_versions (machine, version, source) VALUES ('qa-env', $1, $2)",
        [machine.version, SPEC],
      );
      await client.query(
        `INSERT INTO stacks (id, machine, version, state) VALUES
           ('t-1', 'qa-env', $1, 'RUN'), ('t-2', 'qa-env', 'unstored', 'RUN')`,
        [machine.version],
      );
      // Two due (one held by a tick right now), two later; one of a stack that is gone.
      await client.query(
        `INSERT INTO timers (stack_id, name, due_at, claimed_until) VALUES
           ('t-1', 'ttl-warning', $1, $5),
           ('gone-1', 'timeout:apply', $2, NULL),
           ('t-1', 'ttl', $3, NULL),
           ('t-2', 'ttl', $4, NULL)`,
        [at(-2), at(-1), at(24), at(48), at(0.5)],
      );
      await client.query(
        `INSERT INTO schedules (machine, name, cron, timezone, event, states, next_at) VALUES
           ('qa-env', 'nightly', '0 3 * * *', 'UTC', 'DESTROY', ARRAY['RUN'], $1),
           ('qa-env', 'never', '0 0 30 2 *', 'UTC', 'DESTROY', ARRAY['RUN'], 'infinity')`,
        [at(5)],
      );
    } finally {
      await client.end();
    }
  });

  afterAll(async () => {
    await db?.drop();
    await bare?.drop();
    if (emptyDir) await removeDir(emptyDir);
  });

  const url = () => ["--database-url", db.url];

  it("lists timers soonest first, what each fires, and the schedules with their next occurrence", async () => {
    const r = await runInProcess(timers, url());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const [head, ...rows] = r.stdout.split("\n");
    expect(head).toMatch(/^STACK\s+TIMER\s+DUE\s+IN\s+STATE\s+FIRES$/);
    const timerRows = rows.slice(0, 4);
    expect(timerRows[0]).toMatch(
      /^t-1\s+ttl-warning\s+\S+Z\s+2h ago \(being fired\)\s+RUN\s+TTL warning \(before DESTROY\)$/,
    );
    expect(timerRows[1]).toMatch(
      /^gone-1\s+timeout:apply\s+\S+Z\s+1h ago\s+\(removed\)\s+times out task apply$/,
    );
    expect(timerRows[2]).toMatch(/^t-1\s+ttl\s+\S+Z\s+in (1d|23h\d+m)\s+RUN\s+TTL: sends DESTROY$/);
    // Its machine version is not stored: the TTL's event is not known.
    expect(timerRows[3]).toMatch(/^t-2\s+ttl\s+.*TTL: sends its event$/);
    expect(r.stdout).toContain("\nSchedules\n");
    expect(r.stdout).toMatch(
      /\n {2}qa-env\s+nightly\s+\S+Z\s+in (5h|4h\d+m)\s+DESTROY\s+RUN\s+0 3 \* \* \* \(UTC\)\n/,
    );
    expect(r.stdout).toMatch(/\n {2}qa-env\s+never\s+never\s+-\s+DESTROY/);
  });

  it("--limit N prints the soonest N and says on stderr how to see more; with --due, how many are due", async () => {
    const r = await runInProcess(timers, [...url(), "--limit", "1"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[1]).toMatch(/^t-1\s+ttl-warning/);
    expect(r.stdout).not.toContain("gone-1");
    expect(r.stderr).toBe("more timers after these; the next ones: stackseam timers --limit 2\n");

    const due = await runInProcess(timers, [...url(), "--due", "--limit", "1"]);
    expect(due.code).toBe(0);
    expect(due.stderr).toBe("2 timers are due; the next ones: stackseam timers --due --limit 2\n");
    // Only what is due now: no schedule is.
    expect(due.stdout).not.toContain("Schedules");

    const all = await runInProcess(timers, [...url(), "--due"]);
    expect(all.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(all.stderr).toBe("");
  });

  it("--local prints times with their offset; --json the rows with what they fire", async () => {
    vi.stubEnv("TZ", "Asia/Kolkata");
    try {
      const r = await runInProcess(timers, [...url(), "--local", "--limit", "1"]);
      expect(r.stdout.split("\n")[1]).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:30/);
    } finally {
      vi.unstubAllEnvs();
    }
    const json = await runInProcess(timers, [...url(), "--json"]);
    const out = JSON.parse(json.stdout) as {
      timers: { stackId: string; name: string; fires: string; ttlEvent?: string; state: string | null }[];
      schedules: { name: string; nextAt: string | null }[];
    };
    expect(out.timers.map((t) => [t.stackId, t.name, t.ttlEvent, t.state])).toEqual([
      ["t-1", "ttl-warning", "DESTROY", "RUN"],
      ["gone-1", "timeout:apply", undefined, null],
      ["t-1", "ttl", "DESTROY", "RUN"],
      ["t-2", "ttl", undefined, "RUN"],
    ]);
    expect(out.schedules.find((s) => s.name === "never")?.nextAt).toBeNull();
  });

  it("renders an empty list as no timers (due)", () => {
    const now = new Date();
    expect(renderTimers([], [], { now, local: false, due: false })).toBe("no timers\n");
    expect(renderTimers([], [], { now, local: false, due: true })).toBe("no timers due\n");
  });

  it("timers: exit 1 on a database without the timers, 2 on usage errors", async () => {
    const old = await runInProcess(timers, ["--database-url", bare.url]);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/^stackseam timers: .*stackseam migrate/);
    for (const [args, reason] of [
      [["--limit", "0"], '--limit must be a positive whole number, got "0"'],
      [["--limit", "ten"], '--limit must be a positive whole number, got "ten"'],
      [["extra"], 'unexpected argument "extra"'],
      [["--bogus"], "--bogus"],
    ] as const) {
      const r = await runInProcess(timers, [...args, ...url()]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(reason);
      expect(r.stderr).toContain("Usage: stackseam timers");
    }
    vi.stubEnv("DATABASE_URL", undefined);
    vi.stubEnv("STACKSEAM_DATA_DIR", emptyDir);
    try {
      const noDb = await runInProcess(timers, []);
      expect(noDb.code).toBe(2);
      expect(noDb.stderr).toContain(
        "no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`",
      );
    } finally {
      vi.unstubAllEnvs();
    }
    const help = await runInProcess(timers, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: stackseam timers");
  });

  it("tick: 2 without a database, a task queue or specs; 1 when the database has no schema", async () => {
    vi.stubEnv("DATABASE_URL", undefined);
    vi.stubEnv("SQS_TASK_QUEUE_URL", undefined);
    vi.stubEnv("MACHINE_SPEC_DIR", undefined);
    vi.stubEnv("MACHINE_S3_BUCKET", undefined);
    vi.stubEnv("STACKSEAM_DATA_DIR", emptyDir);
    try {
      const noDb = await runInProcess(tick, []);
      expect(noDb.code).toBe(2);
      expect(noDb.stderr).toContain("no database: pass --database-url");
      const noQueue = await runInProcess(tick, url());
      expect(noQueue.code).toBe(2);
      expect(noQueue.stderr).toContain("no task queue: pass --task-queue-url or set SQS_TASK_QUEUE_URL");
      const queue = ["--task-queue-url", "http://127.0.0.1:1/000000000000/tasks"];
      const noSpecs = await runInProcess(tick, [...url(), ...queue]);
      expect(noSpecs.code).toBe(2);
      expect(noSpecs.stderr).toContain("no machine specs: pass --specs DIR");
      const unmigrated = await runInProcess(tick, [
        "--database-url",
        bare.url,
        ...queue,
        "--specs",
        emptyDir,
      ]);
      expect(unmigrated.code).toBe(1);
      expect(unmigrated.stderr).toMatch(/^stackseam tick: /);
      expect(unmigrated.stdout).toBe("");
    } finally {
      vi.unstubAllEnvs();
    }
    const extra = await runInProcess(tick, ["now"]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected argument "now"');
    const help = await runInProcess(tick, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes: 0 done, 1 something due could not be fired");
  });
});
