// `stackseam stacks list | show | history` in-process against seeded rows, for what docs/cli.md
// promises of their tables: the ERROR column and --full, the next-page hint on stderr, DUE times,
// metadata, a removed stack's history, and the usage errors. The bin-level tests drive stacks
// through the real engine; these cover the shapes of data they do not produce.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as stacks } from "../src/commands/stacks.js";
import { runInProcess } from "./support/in-process.js";

const HOUR = 3_600_000;
const FAILURE =
  "terraform apply failed (exit code 1)\nWarning: deprecated\nError: Invalid value for variable\n  on main.tf line 3";

describe("stacks list, show and history tables", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let work: string;
  const cli = (...args: string[]) => runInProcess(stacks, [...args, "--database-url", db.url]);

  beforeAll(async () => {
    db = await createTestDatabase();
    work = await mkdtemp(join(tmpdir(), "stackseam-stacks-render-"));
    const inOneHour = new Date(Date.now() + HOUR).toISOString();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO stacks (id, machine, state, metadata, tasks, entered_at, active_at) VALUES
           ('sr-err', 'qa env', 'PROVISION', '{"owner": "team-a", "replicas": 3, "debug": true}', $1::jsonb, now(), now()),
           ('sr-pend', 'qa env', 'PROVISION', '{}', $2::jsonb, NULL, NULL),
           ('sr-ok', 'qa env', 'RUN', '{}', '[]'::jsonb, NULL, NULL)`,
        [
          JSON.stringify([
            {
              name: "apply",
              status: "ERROR",
              token: "tok-1",
              attempt: 2,
              description: FAILURE,
              retryAt: inOneHour,
            },
          ]),
          JSON.stringify([
            { name: "apply", status: "PENDING", token: "tok-2", attempt: 1, deadline: inOneHour },
          ]),
        ],
      );
      await client.query(
        `INSERT INTO history (stack_id, machine, event, event_key, outcome, from_state, to_state, path, task, detail, created_at) VALUES
           ('sr-gone', 'qa env', 'LAUNCH', 'g1', 'applied', NULL, 'PROVISION', ARRAY['PROVISION'], NULL, NULL, now() - interval '3 minutes'),
           ('sr-gone', 'qa env', 'TASK_ERROR', 'g2', 'applied', 'PROVISION', 'PROVISION', ARRAY[]::text[], 'apply', $1::jsonb, now() - interval '2 minutes'),
           ('sr-gone', 'qa env', 'TASK_COMPLETED', 'g3', 'applied', 'TEARDOWN', NULL, ARRAY['TEARDOWN'], 'destroy', '{"removed": true, "note": "terminal state, stack removed"}', now() - interval '1 minute')`,
        [JSON.stringify({ description: FAILURE })],
      );
    } finally {
      await client.end();
    }
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await db?.drop();
    if (work) await removeDir(work);
  });

  it("list: an ERROR column with the failure's Error: line, and the whole failure under the row with --full", async () => {
    const r = await cli("list");
    expect(r.code, r.stderr).toBe(0);
    const [head, ...rows] = r.stdout.trimEnd().split("\n");
    expect(head).toMatch(/^STACK\s+MACHINE\s+STATE\s+TASKS\s+UPDATED\s+ERROR$/);
    expect(rows[0]).toMatch(/^sr-err\s+qa env\s+PROVISION\s+.*apply: .*Error: Invalid value for variable$/);
    expect(rows).toHaveLength(3);
    const full = await cli("list", "--full");
    expect(full.stdout).toContain("on main.tf line 3");
    expect(full.stdout).toContain("Warning: deprecated");
    const json = await cli("list", "--json");
    expect((JSON.parse(json.stdout) as { id: string }[]).map((s) => s.id)).toEqual([
      "sr-err",
      "sr-ok",
      "sr-pend",
    ]);
  });

  it("list: more than --limit says on stderr how to get the next page, quoting what a shell needs quoted", async () => {
    const r = await cli("list", "--machine", "qa env", "--limit", "2");
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("sr-pend");
    expect(r.stderr).toBe(
      "more stacks after these 2: stackseam stacks list --machine 'qa env' --limit 2 --after sr-ok\n",
    );
    const next = await cli("list", "--machine", "qa env", "--limit", "2", "--after", "sr-ok");
    expect(next.stdout).toMatch(/\nsr-pend\s/);
    expect(next.stderr).toBe("");
    expect((await cli("list", "--state", "GONE")).stdout).toBe("no stacks\n");
  });

  it("show: metadata of every type, and when a task times out or is retried (DUE)", async () => {
    const err = await cli("show", "sr-err");
    expect(err.code, err.stderr).toBe(0);
    expect(err.stdout).toMatch(/State {5}PROVISION \(since \S+\)/);
    expect(err.stdout).toContain("(the last event from outside: an idle TTL counts from it)");
    expect(err.stdout).toMatch(/owner\s+team-a/);
    expect(err.stdout).toMatch(/replicas\s+3/);
    expect(err.stdout).toMatch(/debug\s+true/);
    expect(err.stdout).toMatch(
      /apply\s+ERROR\s+2\s+tok-1\s+retry in (1h|59m\d+s)\s+.*Error: Invalid value for variable/,
    );
    const pend = await cli("show", "sr-pend");
    expect(pend.stdout).toContain("Metadata  (none)");
    expect(pend.stdout).toMatch(/apply\s+PENDING\s+1\s+tok-2\s+times out in (1h|59m\d+s)/);
    const ok = await cli("show", "sr-ok");
    expect(ok.stdout).toContain("Tasks     (none: the state is stable)");
  });

  it("show of a removed stack is not found (1) and points at its history; the history says removed", async () => {
    const gone = await cli("show", "sr-gone");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(
      "stackseam stacks: stack sr-gone does not exist (never created, or removed: see `stackseam stacks history sr-gone`)\n",
    );
    const h = await cli("history", "sr-gone");
    expect(h.code, h.stderr).toBe(0);
    const rows = h.stdout.trimEnd().split("\n");
    expect(rows[2]).toMatch(
      /TASK_ERROR\s+applied\s+PROVISION\s+PROVISION\s+task apply failed: .*Error: Invalid value for variable$/,
    );
    expect(rows[3]).toMatch(
      /TASK_COMPLETED\s+applied\s+TEARDOWN\s+TEARDOWN → removed\s+task destroy: terminal state, stack removed$/,
    );
    const full = await cli("history", "sr-gone", "--full");
    expect(full.stdout).toContain("on main.tf line 3");
    const none = await cli("history", "nobody");
    expect(none.code).toBe(1);
    expect(none.stderr).toBe("stackseam stacks: no history for stack nobody\n");
  });

  it("usage errors are 2 with the reason", async () => {
    const cases: [string[], string][] = [
      [["walk"], "expected list, show, history, outputs or upgrade"],
      [["list", "sr-ok"], "list takes no stack id"],
      [["show"], "show takes one stack id"],
      [["outputs", "a", "b", "c"], "outputs takes one stack id and at most one output name"],
      [["show", "sr-ok", "--machine", "x"], "--machine is for `stacks list`"],
      [["show", "sr-ok", "--limit", "3"], "--limit is for `stacks list` and `stacks history`"],
      [["show", "sr-ok", "--follow"], "--follow is for `stacks history`"],
      [["history", "sr-ok", "--watch"], "--watch is for `stacks show`"],
      [["list", "--limit", "0"], "--limit"],
      [["list", "--specs", "x"], "--specs is for `stacks upgrade`"],
    ];
    for (const [args, reason] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(reason);
    }
    vi.stubEnv("DATABASE_URL", undefined);
    vi.stubEnv("STACKSEAM_DATA_DIR", work);
    try {
      const r = await runInProcess(stacks, ["list"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("no database: pass --database-url");
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
