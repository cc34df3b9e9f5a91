// `stackseam stacks` in-process against a seeded database (docs/cli.md "stacks"): the hint to the
// next page with the filters given, outputs of a stack that has none, history --limit, and how the
// history names duplicates, failed reports and what a row could not keep.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as stacks } from "../src/commands/stacks.js";
import { runInProcess } from "./support/in-process.js";

describe("stackseam stacks: paging, outputs, history rows", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let work: string;
  const cli = (...args: string[]) => runInProcess(stacks, [...args, "--database-url", db.url]);

  beforeAll(async () => {
    db = await createTestDatabase();
    work = await mkdtemp(join(tmpdir(), "stackseam-cmd-stacks-"));
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    vi.stubEnv("DATABASE_URL", undefined);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // 101 stacks of "fleet": one more than a default page. Three of "shop", two of them running.
    await client.query(
      `INSERT INTO stacks (id, machine, version, state, entry)
       SELECT 'fleet-' || lpad(n::text, 3, '0'), 'fleet', NULL, 'RUN', 1 FROM generate_series(1, 101) n`,
    );
    await client.query(
      `INSERT INTO stacks (id, machine, version, state, entry) VALUES
         ('shop-1', 'shop', NULL, 'RUN', 1), ('shop-2', 'shop', NULL, 'HALTED', 1), ('shop-3', 'shop', NULL, 'RUN', 1)`,
    );
    const row = (at: string, extra: string) =>
      client.query(
        `INSERT INTO history (stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path,
                              task, token, duplicate, detail, created_at)
         SELECT 'shop-1', 'shop', $2::jsonb->>'event', $2::jsonb->>'key', ($2::jsonb->>'outcome')::text,
                $2::jsonb->>'reason', 'RUN', 'RUN', ARRAY[]::text[], $2::jsonb->>'task', NULL,
                coalesce(($2::jsonb->>'duplicate')::boolean, false), $2::jsonb->'detail', $1`,
        [at, extra],
      );
    await row(
      "2026-01-01T00:00:01Z",
      JSON.stringify({ event: "LAUNCH", key: "k-1", outcome: "applied", reason: "launched" }),
    );
    await row(
      "2026-01-01T00:00:02Z",
      JSON.stringify({
        event: "LAUNCH",
        key: "k-1",
        outcome: "applied",
        duplicate: true,
        reason: "launched",
      }),
    );
    await row(
      "2026-01-01T00:00:03Z",
      JSON.stringify({
        event: "TASK_ERROR",
        key: "k-3",
        outcome: "applied",
        detail: { description: "Error: disk full" },
      }),
    );
    await row(
      "2026-01-01T00:00:04Z",
      JSON.stringify({
        event: "TASK_COMPLETED",
        key: "k-4",
        outcome: "applied",
        detail: { outputsProblem: "too large" },
      }),
    );
    // A stack whose id the message schema refuses (written before ids were checked, say).
    await client.query(
      "INSERT INTO stacks (id, machine, version, state, entry) VALUES ('bad id', 'depot', 'v-old', 'RUN', 1)",
    );
    await client.end();
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await db?.drop();
    if (work) await removeDir(work);
  });

  it("a full default page says how to get the next one, with the filters given", async () => {
    const r = await cli("list", "--machine", "fleet");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(101); // header + 100
    expect(r.stderr).toBe(
      "more stacks after these 100: stackseam stacks list --machine fleet --after fleet-100\n",
    );
    const next = await cli("list", "--machine", "fleet", "--after", "fleet-100");
    expect(next.stdout).toMatch(/^fleet-101\s/m);
    expect(next.stderr).toBe("");
  });

  it("--state and --limit are kept in the hint", async () => {
    const r = await cli("list", "--state", "RUN", "--machine", "shop", "--limit", "1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^shop-1\s/m);
    expect(r.stderr).toBe(
      "more stacks after these 1: stackseam stacks list --machine shop --state RUN --limit 1 --after shop-1\n",
    );
  });

  it("outputs of a stack that has none: {} with --json, else a note on stderr (exit 0)", async () => {
    const json = await cli("outputs", "shop-2", "--json");
    expect(json).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(json.stdout)).toEqual({});
    const text = await cli("outputs", "shop-2");
    expect(text).toMatchObject({
      code: 0,
      stdout: "",
      stderr: "stackseam stacks: stack shop-2 has no outputs yet\n",
    });
  });

  it("history: duplicates, failed reports without a task name, outputs not kept; --limit keeps the newest", async () => {
    const r = await cli("history", "shop-1");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n").slice(1);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/LAUNCH\s+applied\s+RUN\s+RUN\s+launched$/);
    expect(lines[1]).toMatch(/LAUNCH\s+ignored \(duplicate\)\s+RUN\s+RUN\s+launched$/);
    expect(lines[2]).toMatch(/TASK_ERROR\s+applied\s+RUN\s+RUN\s+task \? failed: Error: disk full$/);
    expect(lines[3]).toMatch(/TASK_COMPLETED\s+applied\s+RUN\s+RUN\s+outputs not kept: too large$/);
    const last = await cli("history", "shop-1", "--limit", "1");
    const newest = last.stdout.trimEnd().split("\n").slice(1);
    expect(newest).toHaveLength(1);
    expect(newest[0]).toMatch(
      /^2026-01-01T00:00:04\.000Z\s+TASK_COMPLETED\s+applied\s+RUN\s+RUN\s+outputs not kept: too large$/,
    );
  });

  it("upgrade: extra words are a usage error; a stack whose id no message can carry is not sent (exit 1)", async () => {
    const extra = await runInProcess(stacks, ["upgrade", "a", "b"]);
    expect(extra.code).toBe(2);
    expect(extra.stderr.split("\n")[0]).toBe("stackseam stacks: upgrade takes one stack id or --machine M");

    const specs = join(work, "specs");
    await mkdir(specs);
    await writeFile(
      join(specs, "depot.yml"),
      `version: 1
events: [LAUNCH, STOP]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: RUN }] } }
  RUN: { on: { STOP: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
`,
    );
    const r = await cli("upgrade", "bad id", "--specs", specs, "--dry-run");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^bad id\s+depot\s+RUN\s+v-old\s+\S+\s+not sent: invalid event message: /m);
    expect(r.stdout).toContain("1 would be upgraded, 0 already current, 0 cannot upgrade");
  });
});
