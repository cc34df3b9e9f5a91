// §1 State Manager throughput: the real handler (engine) against two references on the same
// workload — the minimal-SQL ceiling (the same semantics by hand, fewest round trips) and the
// driver-only replay (the engine's own statements without the engine) — at 1, 2, 4 and 8
// concurrent workers, on LAUNCH + TASK_COMPLETED + TOUCH (no-op) over N stacks. Also: what
// the NOTIFY trigger costs (migrations 003 and 009: without it, with one waiting CLI, with a waiter
// on every stack), and the pool size of one container.
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import pg from "pg";
import { cpuMeter } from "./lib/cpu.mjs";
import { createDatabase } from "./lib/infra.mjs";
import { mean, median, quantile } from "./lib/stats.mjs";
import { completions, dispatchedTasks, launches, stackIds, touches } from "./lib/workload.mjs";

const BATCH_SIZE = 10; // the SQS event source's default batch size
export const PHASES = ["LAUNCH", "TASK_COMPLETED", "TOUCH"];
export const MODES = ["engine", "minimal", "replay"];

// FIFOs the workers log into, removed when the bench exits.
let fifoDir = null;
let fifos = 0;
function logPipe() {
  if (fifoDir === null) {
    fifoDir = mkdtempSync(join(tmpdir(), "stackseam-bench-logs-"));
    process.on("exit", () => rmSync(fifoDir, { recursive: true, force: true }));
  }
  const path = join(fifoDir, `worker-${fifos++}`);
  execFileSync("mkfifo", [path]);
  return path;
}

function startWorker(mode, common) {
  // The handler logs JSON lines at INFO as in Lambda, where stdout is a pipe that Node writes
  // synchronously and another process reads: here a FIFO per worker, read (counted and dropped)
  // by the main thread. A worker's own stdout would instead post every line to the main thread
  // as a message, a cost Lambda does not have.
  const pipe = logPipe();
  const w = { worker: null, mode, logBytes: 0, waiters: [], inbox: [], pool: null };
  // Opened before the worker starts, without blocking (a FIFO's open waits for the other end),
  // so the worker's open for writing returns at once; a write end of our own keeps the reader
  // from seeing end-of-file before the worker has opened it. A libuv pipe handle reads it.
  const fd = openSync(pipe, constants.O_RDONLY | constants.O_NONBLOCK);
  const keepOpen = openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
  const reader = new Socket({ fd, readable: true, writable: false });
  reader.on("data", (chunk) => {
    w.logBytes += chunk.length;
  });
  w.closeLog = () => {
    closeSync(keepOpen);
    reader.destroy();
  };
  const worker = new Worker(new URL("./workers/throughput-worker.mjs", import.meta.url), {
    workerData: { mode, logPipe: pipe, ...common },
  });
  w.worker = worker;
  worker.on("message", (msg) => {
    const waiter = w.waiters.shift();
    if (waiter) waiter.resolve(msg);
    else w.inbox.push(msg);
  });
  worker.on("error", (err) => {
    for (const waiter of w.waiters.splice(0)) waiter.reject(err);
  });
  return w;
}

function next(w) {
  if (w.inbox.length > 0) return Promise.resolve(w.inbox.shift());
  return new Promise((resolve, reject) => w.waiters.push({ resolve, reject }));
}

/** Starts `count` workers of a mode and waits until they are ready. */
export async function startWorkers(mode, count, common) {
  const workers = Array.from({ length: count }, () => startWorker(mode, common));
  const ready = await Promise.all(workers.map(next));
  if (ready.some((m) => m.type !== "ready")) throw new Error(`${mode} workers did not start`);
  for (const [i, w] of workers.entries()) w.pool = ready[i].pool;
  return workers;
}

/** Closes workers (each closes its pool and clients). */
export async function stopWorkers(workers) {
  for (const w of workers) w.worker.postMessage({ type: "close" });
  await Promise.all(
    workers.map(async (w) => {
      await Promise.race([next(w), new Promise((r) => setTimeout(r, 5000))]);
      await w.worker.terminate();
      w.closeLog();
    }),
  );
}

/**
 * Closes the workers' pools, as if every container were new: the next run opens its connections
 * again. Runs otherwise keep them, as a Lambda container keeps its pool across invocations.
 */
async function rest(workers) {
  const done = workers.map((w) => next(w));
  for (const w of workers) w.worker.postMessage({ type: "rest" });
  await Promise.all(done);
}

/**
 * Runs one phase's units (batches of 10 records, or recorded batches) over the workers, each
 * pulling from a shared counter; with `record`, engine workers keep the statements they send.
 */
async function phase(workers, units, taskQueueUrl, profile, client, record = false) {
  const counter = new SharedArrayBuffer(4);
  const done = workers.map((w) => next(w));
  // Postgres CPU of this database's sessions (and the server's background work) only.
  const cpu = await cpuMeter({ client, database: client.database });
  const t0 = performance.now();
  for (const w of workers)
    w.worker.postMessage({ type: "phase", units, counter, taskQueueUrl, profile, record });
  const results = await Promise.all(done);
  const ms = performance.now() - t0;
  const usage = await cpu.stop();
  for (const r of results) if (r.error) throw new Error(`worker failed: ${r.error}`);
  // The engine's statements per batch, in batch order: what the replay sends.
  const recordings = [];
  for (const r of results) for (const rec of r.recordings) recordings[rec.i] = rec;
  return {
    ms,
    events: results.reduce((a, r) => a + r.events, 0),
    failures: results.reduce((a, r) => a + r.failures, 0),
    statements: results.reduce((a, r) => a + r.statements, 0),
    workerCpuMs: results.reduce((a, r) => a + r.cpuMs, 0),
    batchMs: results.flatMap((r) => r.batchMs),
    profiles: results.map((r) => r.profile).filter((p) => p !== null),
    recordings,
    ...usage,
  };
}

const batches = (records) =>
  Array.from({ length: Math.ceil(records.length / BATCH_SIZE) }, (_, i) =>
    records.slice(i * BATCH_SIZE, (i + 1) * BATCH_SIZE),
  );

async function expectAllInRun(client, prefix, count, mode) {
  const states = await client.query(
    "SELECT state, count(*)::int AS n FROM stacks WHERE id LIKE $1 GROUP BY state",
    [`${prefix}-%`],
  );
  const inRun = states.rows.find((r) => r.state === "RUN")?.n ?? 0;
  if (inRun !== count || states.rows.length !== 1)
    throw new Error(`${mode}: expected ${count} stacks in RUN, got ${JSON.stringify(states.rows)}`);
}

function totals(phases, workers, logBytes0) {
  const all = Object.values(phases);
  const ms = all.reduce((a, p) => a + p.ms, 0);
  const events = all.reduce((a, p) => a + p.events, 0);
  return {
    ms,
    events,
    eventsPerSec: (events / ms) * 1000,
    phases,
    batchMs: all.flatMap((p) => p.batchMs),
    workerCpuMs: all.reduce((a, p) => a + p.workerCpuMs, 0),
    mainThreadMs: all.reduce((a, p) => a + p.mainThreadMs, 0),
    postgresMs: all.reduce((a, p) => a + p.postgresMs, 0),
    machineBusyPct: all.reduce((a, p) => a + p.machineBusyPct * p.ms, 0) / ms,
    logBytes: workers.reduce((a, w) => a + w.logBytes, 0) - logBytes0,
    profiles: all.flatMap((p) => p.profiles),
  };
}

/**
 * The engine or the minimal ceiling: LAUNCH, TASK_COMPLETED with the dispatched tokens, TOUCH, for
 * every stack; checks the end state, the batch failures and the task queue.
 */
async function liveWorkload(mode, workers, ids, prefix, client, aws, profile = false, record = false) {
  const taskQueueUrl = aws.newQueue(mode);
  const logBytes0 = workers.reduce((a, w) => a + w.logBytes, 0);
  const launched = await phase(workers, batches(launches(ids)), taskQueueUrl, profile, client, record);
  const dispatched = await dispatchedTasks(client, prefix);
  if (dispatched.length !== ids.length)
    throw new Error(`${mode}: ${dispatched.length} dispatches for ${ids.length} stacks`);
  const completed = await phase(
    workers,
    batches(completions(dispatched)),
    taskQueueUrl,
    profile,
    client,
    record,
  );
  const touched = await phase(workers, batches(touches(ids)), taskQueueUrl, profile, client, record);
  await expectAllInRun(client, prefix, ids.length, mode);
  const phases = { LAUNCH: launched, TASK_COMPLETED: completed, TOUCH: touched };
  const failures = launched.failures + completed.failures + touched.failures;
  if (failures > 0) throw new Error(`${mode}: ${failures} batch item failures`);
  const queued = aws.depth(taskQueueUrl);
  if (queued !== ids.length)
    throw new Error(`${mode}: ${queued} task messages on the queue for ${ids.length} stacks`);
  return totals(phases, workers, logBytes0);
}

/** The driver-only replay: the recording run's statements, replayed phase by phase on emptied tables. */
async function replayWorkload(workers, recorded, ids, prefix, client, profile = false) {
  const phases = {};
  for (const name of PHASES)
    phases[name] = await phase(workers, recorded.phases[name].recordings, null, profile, client);
  await expectAllInRun(client, prefix, ids.length, "replay");
  return totals(
    phases,
    workers,
    workers.reduce((a, w) => a + w.logBytes, 0),
  );
}

/** Drops the recordings (large) once the replay has used them. */
function slim(run) {
  for (const p of Object.values(run.phases)) delete p.recordings;
  return run;
}

/** A scratch database, a client on it, and how to empty it between runs. */
export async function benchDatabase(adminUrl) {
  const db = await createDatabase(adminUrl);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return {
    ...db,
    client,
    // Identities restart so the replay's new rows get the ids the engine's got, as far as order allows.
    reset: () => client.query("TRUNCATE stacks, history, outbox, timers, notifications RESTART IDENTITY"),
    async close() {
      await client.end();
      await db.drop();
    },
  };
}

/**
 * One side-by-side set at `n` workers: the engine, then (in alternating order) its replay and the
 * minimal ceiling, each on emptied tables. The replay's statements come from a run of its own (the
 * same workload, not measured) just before it: recording them in the measured run would charge the
 * engine for the recording.
 */
export async function triple(pools, db, aws, n, prefix, count, { profile = false, order = 0 } = {}) {
  const ids = stackIds(prefix, count);
  const engineRun = (record) =>
    liveWorkload("engine", pools.engine.slice(0, n), ids, prefix, db.client, aws, profile && !record, record);
  await db.reset();
  const engine = await engineRun(false);
  const others = {
    replay: async () => {
      const recorded = await engineRun(true);
      await db.reset();
      return replayWorkload(pools.replay.slice(0, n), recorded, ids, prefix, db.client, profile);
    },
    minimal: async () =>
      liveWorkload("minimal", pools.minimal.slice(0, n), ids, prefix, db.client, aws, profile),
  };
  const result = { engine: null, replay: null, minimal: null };
  for (const mode of order % 2 === 0 ? ["minimal", "replay"] : ["replay", "minimal"]) {
    if (!pools[mode]) continue;
    await db.reset();
    result[mode] = slim(await others[mode]());
  }
  result.engine = slim(engine);
  return result;
}

/**
 * Engine and minimal only (no replay): for the NOTIFY and pool comparisons. With `fresh`, each
 * mode's pools are closed before and after its run: the run opens them (every container new).
 */
export async function pair(
  pools,
  db,
  aws,
  n,
  prefix,
  count,
  { order = 0, modes = ["engine", "minimal"], fresh = false } = {},
) {
  const result = {};
  for (const mode of order % 2 === 0 ? modes : [...modes].reverse()) {
    // Stacks of their own per mode: a database that is not emptied between runs still works.
    const own = `${prefix}${mode[0]}`;
    await db.reset();
    if (fresh) await rest(pools[mode]);
    result[mode] = slim(
      await liveWorkload(mode, pools[mode].slice(0, n), stackIds(own, count), own, db.client, aws),
    );
    // Closed again after the run: the scale section's two databases cannot keep four modes' pools open.
    if (fresh) await rest(pools[mode]);
  }
  return result;
}

/**
 * Measures engine, minimal ceiling and replay at each concurrency, side by side within each
 * repetition so all three see the same machine conditions; returns per-level medians and the
 * per-repetition ratios.
 */
export async function runThroughput({ adminUrl, aws, quick, log, enginePath }) {
  const levels = [1, 2, 4, 8];
  const reps = quick ? 1 : 5;
  const stacks = quick ? 200 : 1000;
  const db = await benchDatabase(adminUrl);
  const common = {
    dbUrl: db.url,
    endpoint: aws.endpoint,
    bucket: aws.bucket,
    prefix: aws.prefix,
    enginePath,
  };
  const pools = {};
  try {
    for (const mode of MODES) pools[mode] = await startWorkers(mode, Math.max(...levels), common);
    // Warm-up (not measured): loads the spec in every engine worker and lets the JIT settle.
    log("throughput: warm-up");
    await triple(pools, db, aws, Math.max(...levels), "warm", quick ? 80 : 200);
    const runs = [];
    for (let rep = 0; rep < reps; rep++) {
      for (const n of levels) {
        const result = {
          rep,
          n,
          ...(await triple(pools, db, aws, n, `r${rep}n${n}`, stacks, { order: rep + n })),
        };
        log(
          `throughput: rep ${rep + 1}/${reps}, ${n} worker(s): engine ${result.engine.eventsPerSec.toFixed(0)} ev/s, minimal ${result.minimal.eventsPerSec.toFixed(0)}, replay ${result.replay.eventsPerSec.toFixed(0)}`,
        );
        runs.push(result);
      }
    }
    // Where one worker's time goes per event, in every mode (profiled in separate 1-worker runs:
    // sampling slows them down, so these runs are not in the table).
    log("throughput: profiling one worker of each mode");
    const profiled = await triple(pools, db, aws, 1, "prof", Math.min(stacks, 300), { profile: true });
    await db.reset();
    const profile = Object.fromEntries(
      MODES.map((mode) => [mode, mergeProfiles(profiled[mode].profiles, profiled[mode].events)]),
    );
    // The largest level again with every container new: each run opens its pools. Last, so the
    // runs above (the profiled ones included) all find their connections open.
    const top = Math.max(...levels);
    const freshRuns = [];
    for (let rep = 0; rep < (quick ? 1 : 3); rep++) {
      const r = await pair(pools, db, aws, top, `f${rep}`, stacks, { order: rep, fresh: true });
      freshRuns.push(r);
      log(
        `throughput: new containers, rep ${rep + 1}, ${top} workers: engine ${r.engine.eventsPerSec.toFixed(0)} ev/s, minimal ${r.minimal.eventsPerSec.toFixed(0)}`,
      );
    }
    const fresh = {
      n: top,
      engine: side(freshRuns.map((r) => r.engine)),
      minimal: side(freshRuns.map((r) => r.minimal)),
      ratio: median(freshRuns.map((r) => r.engine.eventsPerSec / r.minimal.eventsPerSec)),
    };
    return {
      levels,
      reps,
      stacks,
      pool: pools.engine[0].pool,
      events: stacks * PHASES.length,
      summary: summarise(levels, runs),
      fresh,
      runs: runs.map(({ rep, n, engine, minimal, replay }) => ({
        rep,
        n,
        engine: strip(engine),
        minimal: strip(minimal),
        replay: strip(replay),
      })),
      profile,
    };
  } finally {
    for (const workers of Object.values(pools)) await stopWorkers(workers);
    await db.close();
  }
}

/** A run without its per-batch arrays and profiles (kept small in the saved measurements). */
function strip(run) {
  const { batchMs, profiles, phases, ...rest } = run;
  return {
    ...rest,
    phases: Object.fromEntries(
      Object.entries(phases).map(([k, p]) => [
        k,
        {
          ms: p.ms,
          events: p.events,
          statements: p.statements,
          workerCpuMs: p.workerCpuMs,
          postgresMs: p.postgresMs,
        },
      ]),
    ),
  };
}

/** Sums the per-phase profile summaries into CPU ms per event by group. */
function mergeProfiles(profiles, events) {
  const groups = new Map();
  const builtins = new Map();
  let totalMs = 0;
  for (const p of profiles) {
    totalMs += p.totalMs;
    for (const g of p.groups) groups.set(g.name, (groups.get(g.name) ?? 0) + g.ms);
    for (const b of p.builtins) builtins.set(b.name, (builtins.get(b.name) ?? 0) + b.ms);
  }
  return {
    events,
    msPerEvent: totalMs / events,
    groups: [...groups]
      .map(([name, ms]) => ({ name, ms, msPerEvent: ms / events, pct: (100 * ms) / totalMs }))
      .sort((a, b) => b.ms - a.ms),
    builtins: [...builtins]
      .map(([name, ms]) => ({ name, msPerEvent: ms / events }))
      .sort((a, b) => b.msPerEvent - a.msPerEvent)
      .slice(0, 6),
  };
}

/** Per-level medians of one mode's runs. */
export function side(rs) {
  const perPhase = Object.fromEntries(
    PHASES.map((p) => [
      p,
      {
        eventsPerSec: median(rs.map((r) => (r.phases[p].events / r.phases[p].ms) * 1000)),
        statementsPerEvent: median(rs.map((r) => r.phases[p].statements / r.phases[p].events)),
      },
    ]),
  );
  const perEvent = (f) => median(rs.map((r) => f(r) / r.events));
  return {
    eventsPerSec: median(rs.map((r) => r.eventsPerSec)),
    runs: rs.map((r) => r.eventsPerSec),
    // A batch of 10 records is one invocation.
    batchP50: median(rs.flatMap((r) => r.batchMs)),
    batchP95: median(rs.map((r) => quantile(r.batchMs, 0.95))),
    // Lambda bills each invocation's duration rounded up to the millisecond.
    billedMeanMs: median(rs.map((r) => mean(r.batchMs.map((ms) => Math.ceil(ms))))),
    perPhase,
    workerCpuMsPerEvent: perEvent((r) => r.workerCpuMs),
    mainThreadMsPerEvent: perEvent((r) => r.mainThreadMs),
    postgresMsPerEvent: perEvent((r) => r.postgresMs),
    machineBusyPct: median(rs.map((r) => r.machineBusyPct)),
    logBytesPerEvent: perEvent((r) => r.logBytes),
  };
}

function summarise(levels, runs) {
  return levels.map((n) => {
    const at = runs.filter((r) => r.n === n);
    const ratio = (other) => at.map((r) => r.engine.eventsPerSec / r[other].eventsPerSec);
    return {
      n,
      engine: side(at.map((r) => r.engine)),
      minimal: side(at.map((r) => r.minimal)),
      replay: side(at.map((r) => r.replay)),
      ratio: median(ratio("minimal")),
      ratios: ratio("minimal"),
      replayRatio: median(ratio("replay")),
      replayRatios: ratio("replay"),
    };
  });
}
