import { Kysely, PostgresDialect } from "kysely";
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
}

export const DEFAULT_POOL_MAX = 3;

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
  pool.on("connect", (client) => {
    client.on("error", (err) => opts.onConnectionError?.(err));
  });
  return pool;
}

/** Wraps a pg pool in Kysely; destroying the Kysely instance ends the pool. */
export function databaseFromPool(pool: pg.Pool): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Opens the Stackseam database (what createStateManager, listStacks, getStack and getHistory take). */
export function openDatabase(url: string, opts: OpenDatabaseOptions = {}): Kysely<Database> {
  return databaseFromPool(createPool(url, opts));
}
