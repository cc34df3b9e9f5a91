// §1 State Manager throughput: the real handler vs. the same SQL without the engine (the ceiling),
// at 1, 2, 4 and 8 concurrent workers, on LAUNCH + TASK_COMPLETED + TOUCH (no-op) over N stacks.
import { Worker } from "node:worker_threads";
import pg from "pg";
import { cpuMeter } from "./lib/cpu.mjs";
import { createDatabase } from "./lib/infra.mjs";
import { median, quantile } from "./lib/stats.mjs";
import { completions, dispatchedTasks, launches, stackIds, touches } from "./lib/workload.mjs";

const BATCH_SIZE = 10; // the SQS event source's default batch size
const PHASES = ["LAUNCH", "TASK_COMPLETED", "TOUCH"];

function startWorker(mode, common) {
  const worker = new Worker(new URL("./workers/throughput-worker.mjs", import.meta.url), {
    workerData: { mode, ...common },
    // The handler logs JSON lines at INFO as in Lambda; they are counted and dropped here.
    stdout: true,
  });
  const w = { worker, mode, logBytes: 0, waiters: [], inbox: [] };
  worker.stdout.on("data", (chunk) => {
    w.logBytes += chunk.length;
  });
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

/** Runs one phase's units (engine: batches of 10 records; ceiling: recorded batches) over the workers, each pulling from a shared counter. */
async function phase(workers, units, taskQueueUrl, profile = false) {
  const counter = new SharedArrayBuffer(4);
  const done = workers.map((w) => next(w));
  const cpu = await cpuMeter();
  const t0 = performance.now();
  for (const w of workers) w.worker.postMessage({ type: "phase", units, counter, taskQueueUrl, profile });
  const results = await Promise.all(done);
  const ms = performance.now() - t0;
  const usage = await cpu.stop();
  for (const r of results) if (r.error) throw new Error(`worker failed: ${r.error}`);
  // The engine's statements per batch, in batch order: what the ceiling replays.
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

/** The engine: LAUNCH, TASK_COMPLETED with the dispatched tokens, TOUCH, for every stack; checks the end state. */
async function engineWorkload(workers, ids, prefix, client, aws, profile = false) {
  const taskQueueUrl = aws.newQueue("engine");
  const logBytes0 = workers.reduce((a, w) => a + w.logBytes, 0);
  const launched = await phase(workers, batches(launches(ids)), taskQueueUrl, profile);
  const dispatched = await dispatchedTasks(client, prefix);
  if (dispatched.length !== ids.length)
    throw new Error(`engine: ${dispatched.length} dispatches for ${ids.length} stacks`);
  const completed = await phase(workers, batches(completions(dispatched)), taskQueueUrl, profile);
  const touched = await phase(workers, batches(touches(ids)), taskQueueUrl, profile);
  await expectAllInRun(client, prefix, ids.length, "engine");
  const phases = { LAUNCH: launched, TASK_COMPLETED: completed, TOUCH: touched };
  const failures = launched.failures + completed.failures + touched.failures;
  if (failures > 0) throw new Error(`engine: ${failures} batch item failures`);
  const queued = aws.depth(taskQueueUrl);
  if (queued !== ids.length)
    throw new Error(`engine: ${queued} task messages on the queue for ${ids.length} stacks`);
  return totals(phases, workers, logBytes0);
}

/** The ceiling: the engine run's recorded statements, replayed phase by phase on emptied tables. */
async function ceilingWorkload(workers, engineRun, ids, prefix, client, profile = false) {
  const phases = {};
  for (const name of PHASES)
    phases[name] = await phase(workers, engineRun.phases[name].recordings, null, profile);
  await expectAllInRun(client, prefix, ids.length, "ceiling");
  return totals(
    phases,
    workers,
    workers.reduce((a, w) => a + w.logBytes, 0),
  );
}

/** Drops the recordings (large) once the ceiling has replayed them. */
function slim(run) {
  for (const p of Object.values(run.phases)) delete p.recordings;
  return run;
}

/**
 * Measures engine and ceiling at each concurrency, back to back within each repetition so both
 * see the same machine conditions; returns per-level medians and the per-repetition ratios.
 */
export async function runThroughput({ adminUrl, aws, quick, log }) {
  const levels = [1, 2, 4, 8];
  const reps = quick ? 1 : 5;
  const stacks = quick ? 200 : 1000;
  const db = await createDatabase(adminUrl);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const common = { dbUrl: db.url, endpoint: aws.endpoint, bucket: aws.bucket, prefix: aws.prefix };
  const pools = { engine: [], ceiling: [] };
  try {
    for (const mode of ["engine", "ceiling"]) {
      for (let i = 0; i < Math.max(...levels); i++) pools[mode].push(startWorker(mode, common));
      const ready = await Promise.all(pools[mode].map(next));
      if (ready.some((m) => m.type !== "ready")) throw new Error(`${mode} workers did not start`);
    }
    // Identities restart so the replay's new rows get the ids the engine's got, as far as order allows.
    const reset = () => client.query("TRUNCATE stacks, history, outbox RESTART IDENTITY");
    /** One engine run, then the ceiling replaying its statements with as many workers. */
    const pair = async (n, prefix, count, profile = false) => {
      const ids = stackIds(prefix, count);
      await reset();
      const engine = await engineWorkload(pools.engine.slice(0, n), ids, prefix, client, aws, profile);
      await reset();
      const ceiling = await ceilingWorkload(pools.ceiling.slice(0, n), engine, ids, prefix, client, profile);
      return { engine: slim(engine), ceiling: slim(ceiling) };
    };
    // Warm-up (not measured): loads the spec in every engine worker and lets the JIT settle.
    log("throughput: warm-up");
    await pair(Math.max(...levels), "warm", quick ? 80 : 200);
    const runs = [];
    for (let rep = 0; rep < reps; rep++) {
      for (const n of levels) {
        const result = { rep, n, ...(await pair(n, `r${rep}n${n}`, stacks)) };
        log(
          `throughput: rep ${rep + 1}/${reps}, ${n} worker(s): engine ${result.engine.eventsPerSec.toFixed(0)} ev/s, ceiling ${result.ceiling.eventsPerSec.toFixed(0)} ev/s`,
        );
        runs.push(result);
      }
    }
    // Where one worker's time goes per event, engine and ceiling alike (profiled in separate
    // 1-worker runs: sampling slows them down, so these runs are not in the table).
    log("throughput: profiling one engine worker and one ceiling worker");
    const profiled = await pair(1, "prof", Math.min(stacks, 300), true);
    await reset();
    const profile = {
      engine: mergeProfiles(profiled.engine.profiles, profiled.engine.events),
      ceiling: mergeProfiles(profiled.ceiling.profiles, profiled.ceiling.events),
    };
    return {
      levels,
      reps,
      stacks,
      events: stacks * PHASES.length,
      summary: summarise(levels, runs),
      runs,
      profile,
    };
  } finally {
    for (const w of [...pools.engine, ...pools.ceiling]) {
      w.worker.postMessage({ type: "close" });
    }
    await Promise.all(
      [...pools.engine, ...pools.ceiling].map(async (w) => {
        await Promise.race([next(w), new Promise((r) => setTimeout(r, 5000))]);
        await w.worker.terminate();
      }),
    );
    await client.end();
    await db.drop();
  }
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

function summarise(levels, runs) {
  return levels.map((n) => {
    const at = runs.filter((r) => r.n === n);
    const side = (mode) => {
      const rs = at.map((r) => r[mode]);
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
        // A batch of 10 records is one invocation; per-event latency = batch time / 10.
        batchP50: median(rs.flatMap((r) => r.batchMs)),
        batchP95: median(rs.map((r) => quantile(r.batchMs, 0.95))),
        perPhase,
        workerCpuMsPerEvent: perEvent((r) => r.workerCpuMs),
        mainThreadMsPerEvent: perEvent((r) => r.mainThreadMs),
        postgresMsPerEvent: perEvent((r) => r.postgresMs),
        machineBusyPct: median(rs.map((r) => r.machineBusyPct)),
        logBytesPerEvent: perEvent((r) => r.logBytes),
      };
    };
    const ratios = at.map((r) => r.engine.eventsPerSec / r.ceiling.eventsPerSec);
    return { n, engine: side("engine"), ceiling: side("ceiling"), ratio: median(ratios), ratios };
  });
}
