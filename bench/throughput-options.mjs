// Two questions about the State Manager's settings, answered on §1's workload with the engine and
// the minimal-SQL ceiling side by side:
// - notify: what migration 003's history trigger (pg_notify for `stackseam wait`) costs, at 1 and 8
//   workers, with a listener on one stack's channel as a waiting CLI would be; the trigger is
//   dropped and re-created between runs, alternating.
// - pool: one container (one worker) at several POSTGRES_POOL_MAX values (the handler processes as
//   many stacks of a batch at once as it has connections).
import pg from "pg";
import { median, quantile } from "./lib/stats.mjs";
import { benchDatabase, pair, side, startWorkers, stopWorkers } from "./throughput.mjs";

const TRIGGER =
  "CREATE TRIGGER history_notify AFTER INSERT ON history FOR EACH ROW EXECUTE FUNCTION stackseam_history_notify()";

/** Engine and minimal ceiling with and without the NOTIFY trigger, at 1 and 8 workers. */
export async function runNotify({ adminUrl, aws, quick, log, enginePath }) {
  const levels = [1, 8];
  const reps = quick ? 1 : 3;
  const stacks = quick ? 200 : 1000;
  const db = await benchDatabase(adminUrl);
  const listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  // As a waiting CLI would: a session listening on one stack's channel.
  await listener.query('LISTEN "stackseam.n0-00001"');
  const common = {
    dbUrl: db.url,
    endpoint: aws.endpoint,
    bucket: aws.bucket,
    prefix: aws.prefix,
    enginePath,
  };
  const pools = {};
  const runs = [];
  try {
    for (const mode of ["engine", "minimal"]) pools[mode] = await startWorkers(mode, 8, common);
    log("notify: warm-up");
    await pair(pools, db, aws, 8, "warm", 200);
    for (let rep = 0; rep < reps; rep++) {
      for (const n of levels) {
        // Alternate which variant goes first, so a drift in machine load favours neither.
        const variants = (rep + n) % 2 === 0 ? [true, false] : [false, true];
        for (const trigger of variants) {
          await db.client.query("DROP TRIGGER IF EXISTS history_notify ON history");
          if (trigger) await db.client.query(TRIGGER);
          const r = await pair(pools, db, aws, n, `n${rep}${n}`, stacks, rep);
          runs.push({ rep, n, trigger, ...r });
          log(
            `notify: rep ${rep + 1}/${reps}, ${n} worker(s), trigger ${trigger ? "on" : "off"}: engine ${r.engine.eventsPerSec.toFixed(0)} ev/s, minimal ${r.minimal.eventsPerSec.toFixed(0)}`,
          );
        }
      }
    }
  } finally {
    for (const workers of Object.values(pools)) await stopWorkers(workers);
    await listener.end();
    await db.close();
  }
  const summary = levels.map((n) => {
    const at = (trigger) => runs.filter((r) => r.n === n && r.trigger === trigger);
    const perRep = (mode) =>
      [...new Set(runs.map((r) => r.rep))].map((rep) => {
        const on = at(true).find((r) => r.rep === rep)[mode];
        const off = at(false).find((r) => r.rep === rep)[mode];
        return on.eventsPerSec / off.eventsPerSec;
      });
    return {
      n,
      engine: { on: side(at(true).map((r) => r.engine)), off: side(at(false).map((r) => r.engine)) },
      minimal: { on: side(at(true).map((r) => r.minimal)), off: side(at(false).map((r) => r.minimal)) },
      engineRatio: median(perRep("engine")),
      engineRatios: perRep("engine"),
      minimalRatio: median(perRep("minimal")),
      minimalRatios: perRep("minimal"),
    };
  });
  return { levels, reps, stacks, summary };
}

/** One container at several pool sizes: engine and minimal ceiling. */
export async function runPool({ adminUrl, aws, quick, log, enginePath }) {
  const sizes = quick ? [1, 10] : [1, 2, 3, 5, 10];
  const reps = quick ? 1 : 3;
  const stacks = quick ? 200 : 1000;
  const db = await benchDatabase(adminUrl);
  const common = {
    dbUrl: db.url,
    endpoint: aws.endpoint,
    bucket: aws.bucket,
    prefix: aws.prefix,
    enginePath,
  };
  const runs = [];
  const workers = {};
  try {
    for (const size of sizes) {
      workers[size] = {
        engine: await startWorkers("engine", 1, { ...common, poolMax: size }),
        minimal: await startWorkers("minimal", 1, { ...common, poolMax: size }),
      };
      await pair(workers[size], db, aws, 1, "warm", 100);
    }
    for (let rep = 0; rep < reps; rep++) {
      // Sizes in a different order each repetition.
      const order = rep % 2 === 0 ? sizes : [...sizes].reverse();
      for (const size of order) {
        const r = await pair(workers[size], db, aws, 1, `p${rep}s${size}`, stacks, rep + size);
        runs.push({ rep, size, ...r });
        log(
          `pool: rep ${rep + 1}/${reps}, pool ${size}: engine ${r.engine.eventsPerSec.toFixed(0)} ev/s, minimal ${r.minimal.eventsPerSec.toFixed(0)}`,
        );
      }
    }
  } finally {
    for (const w of Object.values(workers)) {
      await stopWorkers(w.engine);
      await stopWorkers(w.minimal);
    }
    await db.close();
  }
  const summary = sizes.map((size) => {
    const at = runs.filter((r) => r.size === size);
    return {
      size,
      engine: side(at.map((r) => r.engine)),
      minimal: side(at.map((r) => r.minimal)),
      batchP95: quantile(
        at.flatMap((r) => r.engine.batchMs),
        0.95,
      ),
    };
  });
  const sm = await import(enginePath ?? "@stackseam/state-manager");
  return { sizes, reps, stacks, summary, defaultPool: sm.DEFAULT_POOL_MAX };
}
