import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultMigrationsDir, runMigrations } from "@stackseam/state-manager";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";

describe("runMigrations", () => {
  let database: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
    dir = await mkdtemp(join(tmpdir(), "stackseam-migrations-"));
  });
  afterAll(async () => {
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("applies every file once, even with three migrators racing", async () => {
    const log: string[] = [];
    const results = await Promise.all([
      runMigrations(database.url, { log: (m) => log.push(m) }),
      runMigrations(database.url, { log: (m) => log.push(m) }),
      runMigrations(database.url, { log: (m) => log.push(m) }),
    ]);
    const files = (await readdir(defaultMigrationsDir())).filter((f) => f.endsWith(".sql")).sort();
    expect(results.flat()).toEqual(files);
    expect(log.filter((m) => m === "applying 001_init.sql")).toHaveLength(1);
    expect(log.filter((m) => m === "database is up to date")).toHaveLength(2);
    expect(await runMigrations(database.url)).toEqual([]);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const tables = await client.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
      );
      expect(tables.rows.map((r) => r.tablename)).toEqual([
        "history",
        "machine_versions",
        "notifications",
        "outbox",
        "schedules",
        "schema_migrations",
        "stack_listeners",
        "stacks",
        "timers",
      ]);
    } finally {
      await client.end();
    }
  });

  it("runs each file in a transaction, and refuses an applied file that was edited", async () => {
    // This database has every migration of the repository applied: copy them, then add a broken one.
    for (const file of await readdir(defaultMigrationsDir())) {
      await writeFile(join(dir, file), await readFile(join(defaultMigrationsDir(), file), "utf8"));
    }
    await writeFile(
      join(dir, "900_broken.sql"),
      "CREATE TABLE half_done (id int);\nSELECT no_such_function();\n",
    );
    await expect(runMigrations(database.url, { dir })).rejects.toThrow(/900_broken\.sql failed/);
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    // See notify.int.test.ts: the forced drop of the database may end a backend after pool.end().
    pool.on("error", () => {});
    try {
      const half = await pool.query("SELECT to_regclass('half_done') AS t");
      expect(half.rows[0].t).toBeNull();

      await writeFile(join(dir, "900_broken.sql"), "CREATE TABLE notes (id int);\n");
      expect(await runMigrations(pool, { dir })).toEqual(["900_broken.sql"]);
      await writeFile(join(dir, "900_broken.sql"), "CREATE TABLE notes (id bigint);\n");
      await expect(runMigrations(pool, { dir })).rejects.toThrow(
        /900_broken\.sql was changed after it was applied/,
      );
    } finally {
      await pool.end();
    }
  });

  it("passes on what a file says with RAISE NOTICE, naming the file", async () => {
    const db = await createTestDatabase({ migrate: false });
    const folder = await mkdtemp(join(tmpdir(), "stackseam-migrations-notice-"));
    try {
      await writeFile(
        join(folder, "001_a.sql"),
        "DO $$ BEGIN RAISE NOTICE 'index skipped: no extension'; END $$;\nCREATE TABLE a (id int);\n",
      );
      await writeFile(join(folder, "002_b.sql"), "CREATE TABLE b (id int);\n");
      const log: string[] = [];
      await runMigrations(db.url, { dir: folder, log: (m) => log.push(m) });
      expect(log).toEqual([
        "applying 001_a.sql",
        "  001_a.sql: index skipped: no extension",
        "applying 002_b.sql",
        "applied 2 migration(s)",
      ]);
    } finally {
      await db.drop();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("refuses a database with an applied migration that is not on disk, or a pending one numbered below it", async () => {
    const db = await createTestDatabase({ migrate: false });
    const folder = await mkdtemp(join(tmpdir(), "stackseam-migrations-order-"));
    try {
      await writeFile(join(folder, "001_a.sql"), "CREATE TABLE a (id int);\n");
      await writeFile(join(folder, "003_c.sql"), "CREATE TABLE c (id int);\n");
      expect(await runMigrations(db.url, { dir: folder })).toEqual(["001_a.sql", "003_c.sql"]);

      // A file numbered below the newest applied one would run against a schema it was not written for.
      await writeFile(join(folder, "002_b.sql"), "CREATE TABLE b (id int);\n");
      await expect(runMigrations(db.url, { dir: folder })).rejects.toThrow(
        /002_b\.sql is numbered below the newest applied one \(3\) but not applied/,
      );
      await rm(join(folder, "002_b.sql"));

      // An older release (its folder lacks 003) must not run against the newer schema.
      await rm(join(folder, "003_c.sql"));
      await expect(runMigrations(db.url, { dir: folder })).rejects.toThrow(
        /has migration 003_c\.sql applied, which is not in the migrations folder/,
      );
    } finally {
      await db.drop();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("gives up waiting for another migrator's lock after the lock timeout", async () => {
    const db = await createTestDatabase({ migrate: false });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      // The same key runMigrations uses: "stackseam" in ASCII.
      await holder.query("SELECT pg_advisory_lock($1)", [0x737461636b7365n.toString()]);
      await expect(runMigrations(db.url, { lockTimeoutMs: 300 })).rejects.toThrow(
        /another migration has held the migration lock for more than 300 ms/,
      );
      await holder.query("SELECT pg_advisory_unlock_all()");
      expect(await runMigrations(db.url, { lockTimeoutMs: 300 })).toContain("001_init.sql");
    } finally {
      await holder.end();
      await db.drop();
    }
  });
});
