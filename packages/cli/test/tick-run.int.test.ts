// `stackseam tick` in-process firing a due schedule occurrence (docs/cli.md "tick", docs/spec-
// reference.md "schedules"): one line per occurrence fired with the next one, the summary, --json,
// and the stacks in the schedule's states moved by its event.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSpec } from "@stackseam/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as tick } from "../src/commands/tick.js";
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
const machine = parseSpec(SPEC, { name: "nightly" }).machine!;

describe("stackseam tick firing a schedule", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let aws: TestAws;
  let work: string;
  let specs: string;
  let client: pg.Client;

  beforeAll(async () => {
    [db, aws] = await Promise.all([createTestDatabase(), startTestAws()]);
    work = await mkdtemp(join(tmpdir(), "stackseam-tick-run-"));
    specs = join(work, "specs");
    await mkdir(specs);
    await writeFile(join(specs, "nightly.yml"), SPEC);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("INSERT INTO machine_versions (machine, version, source) VALUES ('nightly', $1, $2)", [
      machine.version,
      SPEC,
    ]);
    await client.query(
      `INSERT INTO stacks (id, machine, version, state, entry) VALUES
         ('n-run', 'nightly', $1, 'RUN', 1), ('n-halted', 'nightly', $1, 'HALTED', 2)`,
      [machine.version],
    );
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    for (const [k, v] of Object.entries(aws.env)) vi.stubEnv(k, v);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await client?.end();
    await aws?.stop();
    await db?.drop();
    if (work) await removeDir(work);
  });

  /** The schedule's row as the tick writes it, with its occurrence already due. */
  async function due(at: string): Promise<void> {
    await client.query(
      `INSERT INTO schedules (machine, name, cron, timezone, event, states, next_at) VALUES
         ('nightly', 'nightly', '0 3 * * *', 'UTC', 'STOP', ARRAY['RUN'], $1)
       ON CONFLICT (machine, name) DO UPDATE SET next_at = $1, cursor = NULL, claimed_until = NULL`,
      [at],
    );
  }

  const args = () => ["--database-url", db.url, "--specs", specs, "--task-queue-url", aws.taskQueueUrl];

  it("fires the due occurrence to the stacks in its states and prints it with the next one", async () => {
    await due("2026-01-01T03:00:00.000Z");
    const r = await runInProcess(tick, args());
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^schedule nightly\/nightly: occurrence 2026-01-01T03:00:00\.000Z fired; next \d{4}-\d\d-\d\dT03:00:00\.000Z$/,
    );
    expect(lines.at(-1)).toMatch(
      /^tick: 0 timers fired, 1 schedule occurrence \(1 event\), 0 task messages re-sent in \d+ ms$/,
    );
    const states = await client.query("SELECT id, state FROM stacks ORDER BY id");
    expect(states.rows).toEqual([
      { id: "n-halted", state: "HALTED" },
      { id: "n-run", state: "HALTED" },
    ]);
  });

  it("--json prints what the tick did", async () => {
    await client.query("UPDATE stacks SET state = 'RUN' WHERE id = 'n-run'");
    await due("2026-01-02T03:00:00.000Z");
    const r = await runInProcess(tick, [...args(), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      schedulesCompleted: number;
      scheduleEvents: number;
      schedules: { machine: string; schedule: string; occurrence: string; next: string | null }[];
      problems: string[];
    };
    expect(out.schedulesCompleted).toBe(1);
    expect(out.scheduleEvents).toBe(1);
    expect(out.schedules[0]).toMatchObject({
      machine: "nightly",
      schedule: "nightly",
      occurrence: "2026-01-02T03:00:00.000Z",
    });
    expect(out.problems).toEqual([]);
    // Nothing due any more: the same tick again does nothing.
    const again = await runInProcess(tick, args());
    expect(again.stdout).toMatch(
      /^tick: 0 timers fired, 0 schedule occurrences \(0 events\), 0 task messages re-sent in \d+ ms\n$/,
    );
  });
});
