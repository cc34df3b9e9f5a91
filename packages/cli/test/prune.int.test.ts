// `stackseam prune` through the bin, as docs/operations.md ("Pruning history and the outbox")
// describes it: what goes, what never goes, its output, and its exit codes. Pruning runs through
// the bin; the usage cases run the command in-process.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildCli, removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run } from "../src/commands/prune.js";
import { type Run, stackseam } from "./support/cli.js";
import { runInProcess } from "./support/in-process.js";

const DAY = 86_400_000;

describe("stackseam prune", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let client: pg.Client;
  // An empty data dir: no running dev to fall back on.
  let dataDir: string;
  const env = () => ({ STACKSEAM_DATA_DIR: dataDir });
  const prune = (args: string[]) => stackseam(["prune", ...args], env());
  const count = async (sql: string) => Number((await client.query(sql)).rows[0].n);

  /** Rows on both sides of each cutoff the test uses (90 days of history, 30 of the rest). */
  async function seed(): Promise<void> {
    const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();
    await client.query(
      `INSERT INTO history (stack_id, event, event_key, outcome, created_at) VALUES
         ('old-1', 'LAUNCH', 'k1', 'applied', $1), ('old-2', 'LAUNCH', 'k2', 'applied', $1),
         ('new-1', 'LAUNCH', 'k3', 'applied', $2)`,
      [ago(100), ago(80)],
    );
    await client.query(
      `INSERT INTO outbox (stack_id, task, token, body, created_at, sent_at) VALUES
         ('s', 't', 'sent-old', '{}', $1, $1),
         ('s', 't', 'sent-new', '{}', $2, $2),
         ('s', 't', 'unsent-old', '{}', $1, NULL)`,
      [ago(40), ago(10)],
    );
    await client.query(
      `INSERT INTO notifications (stack_id, event_key, target, kind, destination, body, created_at, sent_at, failed_at) VALUES
         ('s', 'a', 'hook', 'k', '{}', '{}', $1, $1, NULL),
         ('s', 'b', 'hook', 'k', '{}', '{}', $1, NULL, $1),
         ('s', 'c', 'hook', 'k', '{}', '{}', $1, NULL, NULL),
         ('s', 'd', 'hook', 'k', '{}', '{}', $2, $2, NULL)`,
      [ago(40), ago(10)],
    );
  }

  beforeAll(async () => {
    [db] = await Promise.all([createTestDatabase(), buildCli()]);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    dataDir = await mkdtemp(join(tmpdir(), "stackseam-prune-"));
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
    if (dataDir) await removeDir(dataDir);
  });

  it("deletes what is past each retention and never unsent task messages or pending notifications", async () => {
    await seed();
    const r = await prune([
      "--history-older-than",
      "90d",
      "--outbox-older-than",
      "30d",
      "--notifications-older-than",
      "30d",
      "--batch-size",
      "1",
      "--database-url",
      db.url,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const cutoff = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
    expect(lines[0]).toMatch(new RegExp(`^history rows: 2 deleted \\(older than 90d, before ${cutoff}\\)$`));
    expect(lines[1]).toMatch(
      new RegExp(`^sent task messages: 1 deleted \\(older than 30d, before ${cutoff}\\)$`),
    );
    expect(lines[2]).toMatch(
      new RegExp(`^finished notifications: 2 deleted \\(older than 30d, before ${cutoff}\\)$`),
    );
    expect(lines[3]).toMatch(/^\d+ batches in \d+\.\d s, the longest \d+ ms$/);
    expect(lines).toHaveLength(4);
    // The cutoff is now minus the retention.
    const before = Date.parse(/before (\S+)\)/.exec(lines[0] as string)?.[1] ?? "");
    expect(Math.abs(Date.now() - 90 * DAY - before)).toBeLessThan(60_000);

    expect(await count("SELECT count(*) AS n FROM history")).toBe(1);
    expect((await client.query("SELECT token FROM outbox ORDER BY token")).rows.map((r) => r.token)).toEqual([
      "sent-new",
      "unsent-old",
    ]);
    expect(
      (await client.query("SELECT event_key FROM notifications ORDER BY event_key")).rows.map(
        (r) => r.event_key,
      ),
    ).toEqual(["c", "d"]);
  });

  it("prints only the retentions given, and --json the same as JSON", async () => {
    await client.query("TRUNCATE history, outbox, notifications");
    await seed();
    const text = await runInProcess(run, ["--outbox-older-than", "30d", "--database-url", db.url]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^sent task messages: 1 deleted \(older than 30d, before \S+\)\n\d+ batches in /,
    );
    expect(await count("SELECT count(*) AS n FROM history")).toBe(3);

    // The database from DATABASE_URL this time.
    const json = await stackseam(["prune", "--history-older-than", "90d", "--pause", "1ms", "--json"], {
      ...env(),
      DATABASE_URL: db.url,
    });
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { now: string; deleted: Record<string, number>; batches: number };
    expect(out.deleted).toEqual({ history: 2, outbox: 0, notifications: 0 });
    expect(Number.isNaN(Date.parse(out.now))).toBe(false);
    expect(out.batches).toBeGreaterThanOrEqual(1);
  });

  it("exits 2 on usage errors, with the reason and the help", async () => {
    const cases: [string[], string][] = [
      [[], "give at least one of --history-older-than, --outbox-older-than, --notifications-older-than"],
      [["--history-older-than", "soon"], '--history-older-than: not a duration: "soon"'],
      [["--notifications-older-than", "3 days"], '--notifications-older-than: not a duration: "3 days"'],
      [["--history-older-than", "90d", "--pause", "x"], '--pause: not a duration: "x"'],
      [
        ["--history-older-than", "90d", "--batch-size", "0"],
        '--batch-size must be a whole number from 1 to 100000, got "0"',
      ],
      [["--history-older-than", "90d", "--batch-size", "1.5"], "--batch-size must be a whole number"],
      [["--history-older-than", "90d", "--batch-size", "100001"], "--batch-size must be a whole number"],
      [["--history-older-than", "90d", "extra"], 'unexpected argument "extra"'],
      [["--no-such-flag"], "--no-such-flag"],
    ];
    for (const [args, reason] of cases) {
      const r = await runInProcess(run, [...args, "--database-url", db.url]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(`stackseam prune: `);
      expect(r.stderr).toContain(reason);
      expect(r.stderr).toContain("Usage: stackseam prune");
      expect(r.stdout).toBe("");
    }
  });

  it("exits 2 without a database to prune, 1 when the database fails, 0 with --help", async () => {
    vi.stubEnv("DATABASE_URL", undefined);
    vi.stubEnv("STACKSEAM_DATA_DIR", dataDir);
    let none: Run;
    try {
      none = await runInProcess(run, ["--history-older-than", "90d"]);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      "no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`",
    );

    const missing = new URL(db.url);
    missing.pathname = "/stackseam_no_such_database";
    const failed = await runInProcess(run, [
      "--history-older-than",
      "90d",
      "--database-url",
      missing.toString(),
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^stackseam prune: .*stackseam_no_such_database/);

    const help = await runInProcess(run, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes: 0 done, 1 database error, 2 usage error.");
  });
});
