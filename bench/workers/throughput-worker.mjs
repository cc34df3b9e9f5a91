// One benchmark worker = one Lambda instance: its own thread, its own pg connection, its own SDK
// clients. Mode "engine" runs the real State Manager handler on SQS-shaped batches and records
// every statement it sends (text, parameters, returned ids). Mode "ceiling" replays those
// recordings straight through pg: the same statements in the same transactions, without the
// engine (no validation, transition, query building, logging or SQS).
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";
import { CREDENTIALS, REGION } from "../lib/infra.mjs";
import { profiler, summariseProfile } from "../lib/profile.mjs";
import { lambdaContext } from "../lib/workload.mjs";

const { mode, dbUrl, endpoint, bucket, prefix } = workerData;

/** Statements sent during the current unit of work (BEGIN and COMMIT included), below Kysely. */
const tape = { statements: 0, recording: null };

/** Wraps each pooled client's query() to count and, when asked, record what it sends. */
function recordingPool(pool) {
  pool.on("connect", (client) => {
    const query = client.query.bind(client);
    client.query = (text, values, ...rest) => {
      tape.statements++;
      const entry = tape.recording ? { text, values, ids: null } : null;
      if (entry) tape.recording.push(entry);
      const result = query(text, values, ...rest);
      if (entry && result && typeof result.then === "function") {
        result.then(
          (res) => {
            // Ids handed back (new outbox rows, claimed rows) are mapped on replay.
            if (res?.rows?.[0] && "id" in res.rows[0]) entry.ids = res.rows.map((r) => String(r.id));
          },
          () => {},
        );
      }
      return result;
    };
  });
  return pool;
}

async function engine() {
  const { SQSClient } = await import("@aws-sdk/client-sqs");
  const { S3Client } = await import("@aws-sdk/client-s3");
  const { createPool, createStateManager, databaseFromPool, s3MachineSource } = await import(
    "@stackseam/state-manager"
  );
  // Like a Lambda with POSTGRES_POOL_MAX=1: one connection, records of a batch one after another.
  const pool = recordingPool(createPool(dbUrl, { max: 1, applicationName: "stackseam-bench-engine" }));
  const db = databaseFromPool(pool);
  const sqs = new SQSClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  const s3 = new S3Client({ endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  const machines = s3MachineSource({ s3, bucket, prefix });
  const context = lambdaContext("stackseam-state-manager");
  let manager = null;
  let queue = null;
  return {
    async handle(unit, taskQueueUrl) {
      if (queue !== taskQueueUrl) {
        manager = createStateManager({ db, sqs, taskQueueUrl, machines, concurrency: 1 });
        queue = taskQueueUrl;
      }
      tape.recording = [];
      const res = await manager.handler({ Records: unit }, context);
      const recorded = tape.recording;
      tape.recording = null;
      return { events: unit.length, failures: res.batchItemFailures.length, recorded };
    },
    async close() {
      await db.destroy();
      sqs.destroy();
      s3.destroy();
    },
  };
}

async function ceiling() {
  const pool = recordingPool(
    new pg.Pool({ connectionString: dbUrl, max: 1, application_name: "stackseam-bench-ceiling" }),
  );
  const client = await pool.connect();
  return {
    /** Replays one recorded batch; ids the engine got back are swapped for the ones this run gets. */
    async handle(unit) {
      const ids = new Map();
      const map = (v) =>
        typeof v === "string" && ids.has(v) ? ids.get(v) : Array.isArray(v) ? v.map(map) : v;
      for (const s of unit.statements) {
        const res = await client.query(s.text, s.values?.map(map));
        for (const [i, id] of (s.ids ?? []).entries()) {
          const row = res.rows[i];
          if (row) ids.set(id, String(row.id));
        }
      }
      return { events: unit.events, failures: 0, recorded: null };
    },
    async close() {
      client.release();
      await pool.end();
    },
  };
}

const runner = mode === "engine" ? await engine() : await ceiling();

parentPort.on("message", async (msg) => {
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
      const done = await runner.handle(msg.units[i], msg.taskQueueUrl);
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

parentPort.postMessage({ type: "ready" });
