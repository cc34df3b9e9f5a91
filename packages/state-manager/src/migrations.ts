import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { MigrationError } from "./errors.js";

export interface MigrationOptions {
  /** Folder of numbered SQL files (default: see defaultMigrationsDir). */
  dir?: string;
  log?: (msg: string) => void;
  /** How long to wait for another migrator's lock before giving up (default 60 s). */
  lockTimeoutMs?: number;
}

const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

/** Any constant works as long as every migrator uses the same one; this is "stackseam" in ASCII. */
const MIGRATION_LOCK_KEY = 0x737461636b7365n;
const FILE_PATTERN = /^(\d+)_[A-Za-z0-9_-]+\.sql$/;

/**
 * Where migrations are read from by default: STACKSEAM_MIGRATIONS_DIR; else the package's own
 * migrations/ (a packed package ships a copy, made by its prepack script); else the repository's
 * migrations/ (this file lives in packages/state-manager/{src,dist}/ of a checkout).
 */
export function defaultMigrationsDir(): string {
  if (process.env.STACKSEAM_MIGRATIONS_DIR) return process.env.STACKSEAM_MIGRATIONS_DIR;
  const shipped = fileURLToPath(new URL("../migrations/", import.meta.url));
  return existsSync(shipped) ? shipped : fileURLToPath(new URL("../../../migrations/", import.meta.url));
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
    throw new MigrationError(`cannot read the migrations folder ${dir}`, { cause });
  }
  const files: MigrationFile[] = [];
  const seen = new Map<number, string>();
  for (const name of names.sort()) {
    const match = FILE_PATTERN.exec(name);
    if (!match) continue;
    const version = Number(match[1]);
    const other = seen.get(version);
    if (other) throw new MigrationError(`migrations ${other} and ${name} share number ${version}`);
    seen.set(version, name);
    const sql = await readFile(join(dir, name), "utf8");
    files.push({ version, name, sql, checksum: createHash("sha256").update(sql).digest("hex") });
  }
  return files.sort((a, b) => a.version - b.version);
}

/** Takes the migration lock, waiting at most `timeoutMs` for a migrator that holds it. */
async function lock(client: pg.PoolClient, timeoutMs: number): Promise<void> {
  await client.query(`SET lock_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
  } catch (cause) {
    if ((cause as { code?: string }).code === "55P03") {
      throw new MigrationError(
        `another migration has held the migration lock for more than ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}; wait for it to finish, or find the session holding it (pg_locks, locktype = 'advisory')`,
        { cause },
      );
    }
    throw cause;
  } finally {
    await client.query("RESET lock_timeout").catch(() => {});
  }
}

/**
 * Refuses a database whose applied migrations the files do not explain: one applied but missing on
 * disk (an older release running against a newer schema), or a pending file numbered below an
 * applied one (it would run out of order against a schema it was not written for).
 */
function checkHistory(
  applied: readonly { version: number; name: string }[],
  files: readonly MigrationFile[],
) {
  const onDisk = new Set(files.map((f) => f.version));
  const missing = applied.filter((a) => !onDisk.has(a.version)).sort((a, b) => a.version - b.version);
  if (missing.length > 0) {
    throw new MigrationError(
      `the database has migration${missing.length === 1 ? "" : "s"} ${missing.map((m) => m.name).join(", ")} applied, which ${missing.length === 1 ? "is" : "are"} not in the migrations folder: this release is older than the database; run the release that applied ${missing.length === 1 ? "it" : "them"}`,
    );
  }
  const newest = Math.max(0, ...applied.map((a) => a.version));
  const done = new Set(applied.map((a) => a.version));
  const late = files.filter((f) => !done.has(f.version) && f.version < newest);
  if (late.length > 0) {
    throw new MigrationError(
      `migration${late.length === 1 ? "" : "s"} ${late.map((f) => f.name).join(", ")} ${late.length === 1 ? "is" : "are"} numbered below the newest applied one (${newest}) but not applied: renumber ${late.length === 1 ? "it" : "them"} after ${newest}`,
    );
  }
}

/**
 * Applies the pending numbered SQL files in order, each in its own transaction, recorded in
 * `schema_migrations`. A session advisory lock makes concurrent migrators wait for each other (up
 * to `lockTimeoutMs`). Refuses to run when an applied file has been edited or is missing, or when a
 * pending file is numbered below an applied one. Returns the names it applied.
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
      await lock(client, opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
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
        checkHistory(done.rows, files);
        for (const file of files) {
          const prior = byVersion.get(file.version);
          if (prior) {
            if (prior.checksum !== file.checksum) {
              throw new MigrationError(
                `migration ${file.name} was changed after it was applied (as ${prior.name}); add a new numbered file instead`,
              );
            }
            continue;
          }
          log(`applying ${file.name}`);
          // What a file says (RAISE NOTICE: a step it skipped, and why) reaches the operator.
          const notice = (n: { message?: string | undefined }) => log(`  ${file.name}: ${n.message ?? ""}`);
          client.on("notice", notice);
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
            throw new MigrationError(`migration ${file.name} failed: ${(cause as Error).message}`, {
              cause,
            });
          } finally {
            client.off("notice", notice);
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
    if (cause instanceof MigrationError) throw cause;
    throw new MigrationError(`cannot migrate: ${(cause as Error).message}`, { cause });
  } finally {
    if (ownPool) await pool.end();
  }
  log(applied.length ? `applied ${applied.length} migration(s)` : "database is up to date");
  return applied;
}
