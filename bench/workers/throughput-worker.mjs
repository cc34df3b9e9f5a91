// One benchmark worker = one Lambda instance: its own thread, its own pg pool, its own SDK
// clients. Three modes:
// - "engine" runs the real State Manager handler on SQS-shaped batches and, in a run made for the
//   replay (never a measured one), records every statement it sends (text, parameters, connection,
//   returned ids and row versions, and how many statements had finished when it was sent);
// - "replay" (driver-only) replays those recordings straight through pg: the same statements on as
//   many connections, each waiting for the statements that had finished before it in the recording,
//   without the engine (no validation, transition, query building, logging or SQS);
// - "minimal" is the minimal-SQL ceiling (lib/minimal-sql.mjs): the same workload's semantics
//   written by hand with the fewest round trips, task messages sent per batch after commit.
import { openSync, writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";
import { CREDENTIALS, REGION } from "../lib/infra.mjs";
import { minimalStateManager } from "../lib/minimal-sql.mjs";
import { profiler, summariseProfile } from "../lib/profile.mjs";
import { lambdaContext } from "../lib/workload.mjs";

const { mode, dbUrl, endpoint, bucket, prefix, poolMax, enginePath, logPipe } = workerData;

// stdout as in Lambda: a pipe, written synchronously (see startWorker in ../throughput.mjs).
if (logPipe) {
  const fd = openSync(logPipe, "w");
  process.stdout.write = (chunk, encoding, callback) => {
    writeSync(fd, chunk);
    (typeof encoding === "function" ? encoding : callback)?.();
    return true;
  };
}

// A worker is a container under steady load: its connections never sit idle long enough to be
// closed (createPool closes them after a minute), so every pool here keeps them until "rest".
// Idle sessions the server drops are logged; the pool replaces them on the next batch.
const KEEP_IDLE = 0;
const onPoolError = (err) => console.error(`${mode} worker: idle connection lost: ${err.message}`);
const referencePool = (name, max) => {
  const pool = new pg.Pool({
    connectionString: dbUrl,
    max,
    idleTimeoutMillis: KEEP_IDLE,
    application_name: name,
  });
  pool.on("error", onPoolError);
  return pool;
};

/** Statements sent during the current unit of work (BEGIN and COMMIT included), below Kysely. */
const tape = { statements: 0, recording: null, finished: 0 };
/** Values the database hands back that later statements quote (new ids, row versions). */
const HANDED_BACK = ["id", "row_version"];

const PREPARED = "/* stackseam:prepared */ ";
const names = new Map();
const preparedName = (text) => {
  if (!names.has(text)) names.set(text, `replay_${names.size + 1}`);
  return names.get(text);
};

/** Wraps each pooled client's query() to count and, when asked, record what it sends. */
function recordingPool(pool) {
  let clients = 0;
  pool.on("connect", (client) => {
    const connection = clients++;
    const query = client.query.bind(client);
    client.query = (text, values, ...rest) => {
      tape.statements++;
      const entry = tape.recording ? { connection, text, values, ids: null, after: tape.finished } : null;
      if (entry) tape.recording.push(entry);
      const result = query(text, values, ...rest);
      // Only a recording run follows its statements to the end; other runs just count them.
      if (entry && result && typeof result.then === "function") {
        result.then(
          (res) => {
            tape.finished++;
            const first = res?.rows?.[0];
            const columns = first ? HANDED_BACK.filter((c) => c in first) : [];
            if (columns.length > 0) entry.ids = columns.map((c) => [c, res.rows.map((r) => String(r[c]))]);
          },
          () => {
            tape.finished++;
          },
        );
      }
      return result;
    };
  });
  return pool;
}

async function sdkClients() {
  const { SQSClient } = await import("@aws-sdk/client-sqs");
  const { S3Client } = await import("@aws-sdk/client-s3");
  const sqs = new SQSClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  const s3 = new S3Client({ endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  return { sqs, s3 };
}

async function engine() {
  const { sqs, s3 } = await sdkClients();
  // The engine under test: this tree's package, or another tree's build (a before/after comparison).
  const sm = await import(enginePath ?? "@stackseam/state-manager");
  const { createPool, createStateManager, databaseFromPool, s3MachineSource } = sm;
  // As the Lambda handler configures it: POSTGRES_POOL_MAX connections, as many stacks at once.
  const max = poolMax ?? sm.DEFAULT_POOL_MAX ?? 3;
  const machines = s3MachineSource({ s3, bucket, prefix });
  const context = lambdaContext("stackseam-state-manager");
  // A container's pool, kept across runs as a container keeps it across invocations ("rest"
  // closes it: a new container); its State Manager is made again for each run's task queue.
  let db = null;
  let manager = null;
  let queue = null;
  return {
    pool: max,
    /** Runs one batch; with `record`, keeps what it sent for the replay (a run that is not measured). */
    async handle(unit, taskQueueUrl, record) {
      if (db === null) {
        const pool = createPool(dbUrl, {
          max,
          applicationName: "stackseam-bench-engine",
          onConnectionError: onPoolError,
        });
        pool.options.idleTimeoutMillis = KEEP_IDLE;
        db = databaseFromPool(recordingPool(pool));
      }
      if (queue !== taskQueueUrl || manager === null) {
        manager = createStateManager({ db, sqs, taskQueueUrl, machines, concurrency: max });
        queue = taskQueueUrl;
      }
      // Keeping every statement's text and values costs the engine CPU and GC that the other
      // modes do not pay, so measured runs record nothing.
      tape.recording = record ? [] : null;
      tape.finished = 0;
      const res = await manager.handler({ Records: unit }, context);
      const recorded = tape.recording;
      tape.recording = null;
      return { events: unit.length, failures: res.batchItemFailures.length, recorded };
    },
    async rest() {
      await db?.destroy();
      db = null;
      manager = null;
    },
    async close() {
      await this.rest();
      sqs.destroy();
      s3.destroy();
    },
  };
}

async function replay() {
  const max = poolMax ?? 3;
  let pool = null;
  return {
    pool: max,
    /** Replays one recorded batch; ids the engine got back are swapped for the ones this run gets. */
    async handle(unit) {
      pool ??= recordingPool(referencePool("stackseam-bench-replay", max));
      const ids = new Map();
      const map = (v) =>
        typeof v === "string" && ids.has(v) ? ids.get(v) : Array.isArray(v) ? v.map(map) : v;
      let finished = 0;
      const waiting = [];
      const settle = () => {
        finished++;
        for (let i = waiting.length - 1; i >= 0; i--) {
          if (finished >= waiting[i].after) waiting.splice(i, 1)[0].resolve();
        }
      };
      const byConnection = new Map();
      for (const s of unit.statements) {
        const list = byConnection.get(s.connection) ?? [];
        list.push(s);
        byConnection.set(s.connection, list);
      }
      await Promise.all(
        [...byConnection.values()].map(async (list) => {
          const client = await pool.connect();
          try {
            for (const s of list) {
              if (finished < s.after)
                await new Promise((resolve) => waiting.push({ after: s.after, resolve }));
              try {
                const values = s.values?.map(map);
                // As the engine's pool does: marked statements are named prepared statements.
                const res = s.text.startsWith(PREPARED)
                  ? await client.query({ name: preparedName(s.text), text: s.text, values })
                  : await client.query(s.text, values);
                for (const [column, values] of s.ids ?? []) {
                  for (const [i, id] of values.entries()) {
                    const row = res.rows[i];
                    if (row && column in row && id !== String(row[column])) ids.set(id, String(row[column]));
                  }
                }
              } finally {
                settle();
              }
            }
          } finally {
            client.release();
          }
        }),
      );
      return { events: unit.events, failures: 0, recorded: null };
    },
    async rest() {
      await pool?.end();
      pool = null;
    },
    async close() {
      await this.rest();
    },
  };
}

async function minimal() {
  const { sqs, s3 } = await sdkClients();
  const max = poolMax ?? 3;
  let pool = null;
  let manager = null;
  let queue = null;
  return {
    pool: max,
    async handle(unit, taskQueueUrl) {
      pool ??= recordingPool(referencePool("stackseam-bench-minimal", max));
      if (queue !== taskQueueUrl || manager === null) {
        manager = minimalStateManager({ pool, sqs, taskQueueUrl, concurrency: max, version: "minimal" });
        queue = taskQueueUrl;
      }
      const res = await manager.handle(unit);
      return { events: unit.length, failures: res.batchItemFailures.length, recorded: null };
    },
    async rest() {
      await pool?.end();
      pool = null;
      manager = null;
    },
    async close() {
      await this.rest();
      sqs.destroy();
      s3.destroy();
    },
  };
}

const runner = mode === "engine" ? await engine() : mode === "replay" ? await replay() : await minimal();

parentPort.on("message", async (msg) => {
  if (msg.type === "rest") {
    await runner.rest();
    parentPort.postMessage({ type: "rested" });
    return;
  }
  if (msg.type === "close") {
    await runner.close();
    parentPort.postMessage({ type: "closed" });
    return;
  }
  if (msg.type !== "phase") return;
  const next = new Int32Array(msg.counter);
  const batchMs = [];
  const recordings = [];
  let failures = 0;
  let events = 0;
  let error = null;
  tape.statements = 0;
  const prof = msg.profile ? await profiler() : null;
  const cpu0 = process.threadCpuUsage();
  try {
    for (;;) {
      const i = Atomics.add(next, 0, 1);
      if (i >= msg.units.length) break;
      const t0 = performance.now();
      const done = await runner.handle(msg.units[i], msg.taskQueueUrl, msg.record === true);
      batchMs.push(performance.now() - t0);
      failures += done.failures;
      events += done.events;
      if (done.recorded) recordings.push({ i, events: done.events, statements: done.recorded });
    }
  } catch (err) {
    error = String(err?.stack ?? err);
  }
  const cpu = process.threadCpuUsage(cpu0);
  const profile = prof ? summariseProfile(await prof.stop()) : null;
  parentPort.postMessage({
    type: "done",
    profile,
    events,
    batchMs,
    failures,
    statements: tape.statements,
    recordings,
    cpuMs: (cpu.user + cpu.system) / 1000,
    error,
  });
});

parentPort.postMessage({ type: "ready", pool: runner.pool });
