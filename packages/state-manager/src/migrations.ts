import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { StateManagerError } from "./errors.js";

export interface MigrationOptions {
  /** Folder of numbered SQL files; defaults to STACKSEAM_MIGRATIONS_DIR, else the repository's migrations/. */
  dir?: string;
  log?: (msg: string) => void;
}

/** Any constant works as long as every migrator uses the same one; this is "stackseam" in ASCII. */
const MIGRATION_LOCK_KEY = 0x737461636b7365n;
const FILE_PATTERN = /^(\d+)_[A-Za-z0-9_-]+\.sql$/;

/** The migrations/ folder at the repository root (this file lives in packages/state-manager/{src,dist}/). */
export function defaultMigrationsDir(): string {
  return (
    process.env.STACKSEAM_MIGRATIONS_DIR ?? fileURLToPath(new URL("../../../migrations/", import.meta.url))
  );
}

interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    throw new StateManagerError("MIGRATION", `cannot read the migrations folder ${dir}`, { cause });
  }
  const files: MigrationFile[] = [];
  const seen = new Map<number, string>();
  for (const name of names.sort()) {
    const match = FILE_PATTERN.exec(name);
    if (!match) continue;
    const version = Number(match[1]);
    const other = seen.get(version);
    if (other)
      throw new StateManagerError("MIGRATION", `migrations ${other} and ${name} share number ${version}`);
    seen.set(version, name);
    const sql = await readFile(join(dir, name), "utf8");
    files.push({ version, name, sql, checksum: createHash("sha256").update(sql).digest("hex") });
  }
  return files.sort((a, b) => a.version - b.version);
}

/**
 * Applies the pending numbered SQL files in order, each in its own transaction, recorded in
 * `schema_migrations`. A session advisory lock makes concurrent migrators wait for each other.
 * Refuses to run when an applied file has been edited. Returns the names it applied.
 */
export async function runMigrations(
  connection: string | pg.Pool,
  opts: MigrationOptions = {},
): Promise<string[]> {
  const log = opts.log ?? (() => {});
  const files = await readMigrations(opts.dir ?? defaultMigrationsDir());
  const ownPool = typeof connection === "string";
  const pool =
    typeof connection === "string" ? new pg.Pool({ connectionString: connection, max: 1 }) : connection;
  if (ownPool) pool.on("error", () => {});
  const applied: string[] = [];
  try {
    const client = await pool.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
      try {
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version    integer     PRIMARY KEY,
          name       text        NOT NULL,
          checksum   text        NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
        const done = await client.query<{ version: number; name: string; checksum: string }>(
          "SELECT version, name, checksum FROM schema_migrations",
        );
        const byVersion = new Map(done.rows.map((r) => [r.version, r]));
        for (const file of files) {
          const prior = byVersion.get(file.version);
          if (prior) {
            if (prior.checksum !== file.checksum) {
              throw new StateManagerError(
                "MIGRATION",
                `migration ${file.name} was changed after it was applied (as ${prior.name}); add a new numbered file instead`,
              );
            }
            continue;
          }
          log(`applying ${file.name}`);
          try {
            await client.query("BEGIN");
            await client.query(file.sql);
            await client.query(
              "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
              [file.version, file.name, file.checksum],
            );
            await client.query("COMMIT");
          } catch (cause) {
            await client.query("ROLLBACK").catch(() => {});
            throw new StateManagerError(
              "MIGRATION",
              `migration ${file.name} failed: ${(cause as Error).message}`,
              {
                cause,
              },
            );
          }
          applied.push(file.name);
        }
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY.toString()]).catch(() => {});
      }
    } finally {
      client.release();
    }
  } catch (cause) {
    if (cause instanceof StateManagerError) throw cause;
    throw new StateManagerError("MIGRATION", `cannot migrate: ${(cause as Error).message}`, { cause });
  } finally {
    if (ownPool) await pool.end();
  }
  log(applied.length ? `applied ${applied.length} migration(s)` : "database is up to date");
  return applied;
}
