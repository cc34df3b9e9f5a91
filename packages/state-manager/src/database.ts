import { CompiledQuery, Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";

/** How to reach Postgres over TLS: off, encrypted without verifying the server, or verified. */
export type SslMode = "disable" | "require" | "verify";

export interface OpenDatabaseOptions {
  /** Pool size. Lambda runs one batch at a time per container, so a few connections suffice. */
  max?: number;
  /** Shows in pg_stat_activity, so operators (and tests) can tell our sessions apart. */
  applicationName?: string;
  /** Overrides any sslmode in the URL. */
  ssl?: SslMode;
  /** Called when a pooled connection dies (e.g. a database failover); the pool drops it. */
  onConnectionError?: (err: Error) => void;
  /** Milliseconds to wait for a connection before failing the record (transient). */
  connectionTimeoutMillis?: number;
  /**
   * Named prepared statements for the event path (see PREPARED): on, off, or "auto" (the default:
   * on, except through an RDS Proxy endpoint, where a prepared statement pins the proxy session).
   */
  prepared?: boolean | "auto";
}

// RDS Proxy endpoints: <name>.proxy-<id>.<region>.rds.amazonaws.com (.cn in China).
const RDS_PROXY_HOST = /\.proxy-[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com(\.cn)?$/i;

/** Whether to prepare the event path's statements on connections to `url` (see PREPARED). */
export function preparesStatements(url: string, prepared: boolean | "auto" = "auto"): boolean {
  if (prepared !== "auto") return prepared;
  try {
    return !RDS_PROXY_HOST.test(new URL(url).hostname);
  } catch {
    return true;
  }
}

export const DEFAULT_POOL_MAX = 3;

/**
 * A statement whose text starts with this comment is sent as a named prepared statement: parsed
 * and planned once per connection, then only bound and executed. The event path's statements are
 * (see stack-rows.ts, decision-writes.ts, outbox.ts): parsing and planning a statement of a dozen
 * CTEs costs the server about as much as running it. Their result columns are listed, never `*`,
 * so a migration that adds a column does not invalidate a prepared plan's result type.
 */
export const PREPARED = "/* stackseam:prepared */ ";

// Names by statement text, shared by every connection (each prepares a name on first use). The
// statements are a few shapes (which CTEs an event writes); past this many, texts run unprepared.
const MAX_PREPARED = 200;
const preparedNames = new Map<string, string>();
// Bumped when a prepared statement turns out stale: every text gets a new name, prepared afresh.
let generation = 0;

function preparedName(text: string): string | undefined {
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < MAX_PREPARED) {
    name = `stackseam_${generation}_${preparedNames.size + 1}`;
    preparedNames.set(text, name);
  }
  return name;
}

// SQLSTATEs that mean a prepared statement can no longer be used: a migration changed what it
// returns ("cached plan must not change result type"), or the server no longer knows it.
const STALE_PREPARED = new Set(["0A000", "26000"]);

type Query = (...args: unknown[]) => Promise<unknown>;

/** Sends the marked statements of a pooled client as named prepared statements (see PREPARED). */
function preparing(client: pg.PoolClient): void {
  const query = client.query.bind(client) as unknown as Query;
  (client as unknown as { query: Query }).query = (...args: unknown[]) => {
    const [text, values] = args;
    if (args.length <= 2 && typeof text === "string" && text.startsWith(PREPARED)) {
      const name = preparedName(text);
      if (name !== undefined) {
        return query({ name, text, values }).catch((err: unknown) => {
          // The event fails and is retried; by then its statements have new names.
          if (STALE_PREPARED.has((err as { code?: string }).code ?? "")) {
            generation += 1;
            preparedNames.clear();
          }
          throw err;
        });
      }
    }
    return query(...args);
  };
}

function sslOption(mode: SslMode | undefined): pg.PoolConfig["ssl"] | undefined {
  if (mode === undefined) return undefined;
  if (mode === "disable") return false;
  return mode === "require" ? { rejectUnauthorized: false } : { rejectUnauthorized: true };
}

function withoutSslParams(url: string): string {
  try {
    const u = new URL(url);
    for (const p of ["sslmode", "ssl", "sslrootcert", "sslcert", "sslkey", "uselibpqcompat"])
      u.searchParams.delete(p);
    return u.toString();
  } catch {
    return url;
  }
}

/** Creates a pg pool sized for Lambda; a connection's death never crashes the process. */
export function createPool(url: string, opts: OpenDatabaseOptions = {}): pg.Pool {
  const config: pg.PoolConfig = {
    // pg lets an sslmode in the URL win over the ssl option, so an explicit mode removes it.
    connectionString: opts.ssl === undefined ? url : withoutSslParams(url),
    max: opts.max ?? DEFAULT_POOL_MAX,
    application_name: opts.applicationName ?? "stackseam-state-manager",
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 10_000,
    idleTimeoutMillis: 60_000,
  };
  const ssl = sslOption(opts.ssl);
  if (ssl !== undefined) config.ssl = ssl;
  const pool = new pg.Pool(config);
  pool.on("error", (err) => opts.onConnectionError?.(err));
  // A connection can die while checked out but between queries (e.g. inside a transaction while
  // we wait on S3); pg then emits "error" on the client, which would crash the process unheard.
  // The next query on it fails and the record is retried; the pool discards the broken client.
  const prepare = preparesStatements(url, opts.prepared);
  pool.on("connect", (client) => {
    client.on("error", (err) => opts.onConnectionError?.(err));
    if (prepare) preparing(client);
  });
  return pool;
}

// The pool under each Kysely instance databaseFromPool made (see poolOf).
const pools = new WeakMap<Kysely<Database>, pg.Pool>();

/** Wraps a pg pool in Kysely; destroying the Kysely instance ends the pool. */
export function databaseFromPool(pool: pg.Pool): Kysely<Database> {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
}

/**
 * The pg pool under `db`, when databaseFromPool made it: the event path checks out one client for
 * an event's statements (see Runner). Undefined for a Kysely instance made elsewhere.
 */
export function poolOf(db: Kysely<Database>): pg.Pool | undefined {
  return pools.get(db);
}

/**
 * Where a raw statement runs: through Kysely (the pool, or a transaction), or on one checked-out
 * pool client. Both return pg's rows as they are (no Kysely plugin is installed); the client skips
 * Kysely's per-query work and a pool checkout per statement, which cost the event path more CPU
 * than its statements' own driver work.
 */
export type Runner = Kysely<Database> | pg.PoolClient;

/** Runs one raw statement (text with numbered parameters) and returns its rows. */
export async function rowsOf<R>(on: Runner, text: string, values: readonly unknown[]): Promise<R[]> {
  if (on instanceof Kysely)
    return (await on.executeQuery<R>(CompiledQuery.raw(text, values as unknown[]))).rows;
  return (await on.query(text, values as unknown[])).rows as R[];
}

/**
 * Runs `fn` in a transaction: on one checked-out pool client with BEGIN and COMMIT when the pool
 * is known (see poolOf), which skips Kysely's per-statement work, else in a Kysely transaction.
 * Rolls back and rethrows when `fn` throws.
 */
export async function inTransaction<T>(db: Kysely<Database>, fn: (on: Runner) => Promise<T>): Promise<T> {
  const pool = poolOf(db);
  if (!pool) return db.transaction().execute((trx) => fn(trx));
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const value = await fn(client);
    await client.query("COMMIT");
    return value;
  } catch (err) {
    // A connection that cannot even roll back is dropped from the pool rather than reused in a
    // state nobody knows (pg-pool drops one that has ended by itself).
    await client.query("ROLLBACK").catch((rollback: unknown) => {
      broken = rollback instanceof Error ? rollback : new Error(String(rollback));
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Opens the Stackseam database (what createStateManager, listStacks, getStack and getHistory take). */
export function openDatabase(url: string, opts: OpenDatabaseOptions = {}): Kysely<Database> {
  return databaseFromPool(createPool(url, opts));
}
