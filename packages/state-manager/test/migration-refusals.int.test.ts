// The migrator's refusals, each with a message an operator can act on (docs/operations.md,
// migrations): folders it cannot use, several files out of step, a server it cannot reach.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultMigrationsDir, runMigrations } from "@stackseam/state-manager";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "stackseam-migration-refusals-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  for (const [file, sql] of Object.entries(files)) await writeFile(join(dir, file), sql);
  return dir;
}

describe("migration files", () => {
  it("refuses two files with the same number, naming both", async () => {
    const dir = await folder("dup", {
      "004_add_x.sql": "SELECT 1;\n",
      "004_add_y.sql": "SELECT 1;\n",
    });
    // Refused before any connection is tried.
    await expect(runMigrations("postgres://nobody@127.0.0.1:1/none", { dir })).rejects.toThrow(
      "migrations 004_add_x.sql and 004_add_y.sql share number 4",
    );
  });

  it("refuses a folder it cannot read, naming it", async () => {
    const dir = join(root, "no-such-folder");
    await expect(runMigrations("postgres://nobody@127.0.0.1:1/none", { dir })).rejects.toThrow(
      `cannot read the migrations folder ${dir}`,
    );
  });

  it("reads STACKSEAM_MIGRATIONS_DIR when it is set", () => {
    vi.stubEnv("STACKSEAM_MIGRATIONS_DIR", "/opt/stackseam/migrations");
    expect(defaultMigrationsDir()).toBe("/opt/stackseam/migrations");
  });
});

describe("against a database", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("runs only numbered .sql files, and names every file out of step when several are", async () => {
    const dir = await folder("several", {
      "001_a.sql": "CREATE TABLE a (id int);\n",
      "004_d.sql": "CREATE TABLE d (id int);\n",
      "005_e.sql": "CREATE TABLE e (id int);\n",
      "README.md": "not a migration\n",
      "006_notes.txt": "not a migration either\n",
    });
    expect(await runMigrations(db.url, { dir })).toEqual(["001_a.sql", "004_d.sql", "005_e.sql"]);

    await writeFile(join(dir, "002_b.sql"), "CREATE TABLE b (id int);\n");
    await writeFile(join(dir, "003_c.sql"), "CREATE TABLE c (id int);\n");
    await expect(runMigrations(db.url, { dir })).rejects.toThrow(
      "migrations 002_b.sql, 003_c.sql are numbered below the newest applied one (5) but not applied: renumber them after 5",
    );
    await rm(join(dir, "002_b.sql"));
    await rm(join(dir, "003_c.sql"));

    await rm(join(dir, "004_d.sql"));
    await rm(join(dir, "005_e.sql"));
    await expect(runMigrations(db.url, { dir })).rejects.toThrow(
      "the database has migrations 004_d.sql, 005_e.sql applied, which are not in the migrations folder: this release is older than the database; run the release that applied them",
    );
  });

  it("says how long it waited for another migrator's lock, in seconds from one second on", async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock($1)", [0x737461636b7365n.toString()]);
      const dir = await folder("locked", { "001_a.sql": "SELECT 1;\n" });
      await expect(runMigrations(db.url, { dir, lockTimeoutMs: 1_000 })).rejects.toThrow(
        /^another migration has held the migration lock for more than 1 s; wait for it to finish/,
      );
    } finally {
      await holder.end();
    }
  });

  it("wraps a server it cannot reach in a MigrationError that says so", async () => {
    // A port that accepts and closes at once: a server that is not Postgres, or went away.
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      await expect(
        runMigrations(`postgres://nobody@127.0.0.1:${port}/none`, { dir: defaultMigrationsDir() }),
      ).rejects.toMatchObject({
        name: "MigrationError",
        message: expect.stringMatching(/^cannot migrate: /),
      });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
