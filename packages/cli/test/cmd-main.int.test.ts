// The bin's own dispatch (docs/cli.md: usage errors exit 2) and `stackseam migrate` with its own
// migrations folder (docs/cli.md "migrate"): applied once, refused once an applied file is edited.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildCli, removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as migrate } from "../src/commands/migrate.js";
import { stackseam } from "./support/cli.js";
import { runInProcess } from "./support/in-process.js";

describe("the stackseam bin: no command, help, an unknown command", { timeout: 120_000 }, () => {
  beforeAll(async () => {
    await buildCli();
  });

  it("without a command prints the usage and exits 2; help and -h exit 0", async () => {
    const none = await stackseam([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^stackseam — /);
    expect(none.stdout).toContain("Usage: stackseam <command> [options]");
    // Every command of docs/cli.md's table is listed.
    for (const c of [
      "validate",
      "graph",
      "migrate",
      "send",
      "wait",
      "stacks",
      "timers",
      "tick",
      "specs",
      "task",
    ])
      expect(none.stdout).toMatch(new RegExp(`^  ${c}\\s`, "m"));
    for (const flag of ["help", "-h"]) {
      const r = await stackseam([flag]);
      expect(r.code, flag).toBe(0);
      expect(r.stdout).toBe(none.stdout);
    }
  });

  it("an unknown command exits 2, names it and prints the usage", async () => {
    const r = await stackseam(["lauch"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^stackseam: unknown command "lauch"\n\nstackseam — /);
  });
});

describe("stackseam migrate with a migrations folder", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let work: string;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    work = await mkdtemp(join(tmpdir(), "stackseam-cmd-migrate-"));
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    vi.stubEnv("DATABASE_URL", undefined);
    vi.stubEnv("STACKSEAM_MIGRATIONS_DIR", undefined);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await db?.drop();
    if (work) await removeDir(work);
  });

  it("usage errors: an argument, no database (exit 2)", async () => {
    const extra = await runInProcess(migrate, ["now"]);
    expect(extra.code).toBe(2);
    expect(extra.stderr.split("\n")[0]).toBe('stackseam migrate: unexpected argument "now"');
    const noDb = await runInProcess(migrate, []);
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toBe(
      "stackseam migrate: no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`\n",
    );
  });

  it("applies the folder's files once, and refuses to run once an applied file was edited (exit 1)", async () => {
    const dir = join(work, "migrations");
    await mkdir(dir);
    await writeFile(join(dir, "001_widgets.sql"), "CREATE TABLE widgets (id int PRIMARY KEY);\n");
    const first = await runInProcess(migrate, ["--database-url", db.url, "--dir", dir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("applying 001_widgets.sql");
    const again = await runInProcess(migrate, ["--database-url", db.url, "--dir", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain("applying");

    await writeFile(join(dir, "001_widgets.sql"), "CREATE TABLE widgets (id bigint PRIMARY KEY);\n");
    const edited = await runInProcess(migrate, ["--database-url", db.url, "--dir", dir]);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toMatch(/^stackseam migrate: .*001_widgets\.sql was changed after it was applied/);
  });

  it("without --dir applies the migrations shipped with the State Manager, once", async () => {
    const fresh = await createTestDatabase({ migrate: false });
    try {
      const r = await runInProcess(migrate, ["--database-url", fresh.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("applying 001_init.sql");
      expect(r.stdout).toContain("applying 003_history_notify.sql");
      const again = await runInProcess(migrate, ["--database-url", fresh.url]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).not.toContain("applying");
    } finally {
      await fresh.drop();
    }
  });
});
