// Two questions about the State Manager's settings, answered on §1's workload with the engine and
// the minimal-SQL ceiling side by side:
// - notify: what migration 003's history trigger (pg_notify for `stackseam wait`, since 009 only for
//   stacks a waiter registered, since 010 run only for stacks whose gate a waiter holds) costs, at
//   1 and 8 workers, with one waiting CLI and with a waiter on every stack; the trigger is dropped
//   and re-created between runs, in rotating order.
// - pool: one container (one worker) at several POSTGRES_POOL_MAX values (the handler processes as
//   many stacks of a batch at once as it has connections).
import pg from "pg";
import { historyTrigger } from "./lib/infra.mjs";
import { median, quantile } from "./lib/stats.mjs";
import { stackIds } from "./lib/workload.mjs";
import { benchDatabase, pair, side, startWorkers, stopWorkers } from "./throughput.mjs";

/** No trigger; the trigger and one registered waiter; the trigger and a waiter per stack. */
const VARIANTS = ["off", "one", "all"];

/**
 * Engine and minimal ceiling without the NOTIFY trigger, with it and one waiting CLI (registered
 * for one stack of the run, as `stackseam wait` registers; migration 009), and with it and a waiter
 * on every stack of the run, at 1 and 8 workers.
 */
export async function runNotify({ adminUrl, aws, quick, log, enginePath }) {
  const levels = [1, 8];
  // Five: the trigger's cost with one waiter is a few per cent, inside one run's drift.
  const reps = quick ? 1 : 5;
  const stacks = quick ? 200 : 1000;
  const db = await benchDatabase(adminUrl);
  const listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  const trigger = await historyTrigger(db.client);
  const common = {
    dbUrl: db.url,
    endpoint: aws.endpoint,
    bucket: aws.bucket,
    prefix: aws.prefix,
    enginePath,
  };
  const pools = {};
  const runs = [];
  /** Registers `listener` as the waiter(s) of this variant for the stacks pair() will use. */
  const watch = async (variant, prefix) => {
    await db.client.query("DROP TRIGGER IF EXISTS history_notify ON history");
    await db.client.query("DELETE FROM stack_listeners");
    // The gates (migration 010) the last variant's registrations hold.
    await listener.query("SELECT pg_advisory_unlock_all()");
    if (variant === "off") return;
    await db.client.query(trigger);
    for (const mode of ["engine", "minimal"]) {
      const ids = stackIds(`${prefix}${mode[0]}`, stacks);
      // One waiting CLI: LISTEN on its stack's channel and register, as the feed does.
      await listener.query(`LISTEN ${listener.escapeIdentifier(`stackseam.${ids[0].slice(0, 50)}`)}`);
      await listener.query("SELECT stackseam_listen($1)", [ids[0]]);
      // Every stack watched: what a waiter per stack would register, all in the listening session
      // (so the trigger notifies each of them; one LISTEN is signalled for all).
      if (variant === "all")
        await listener.query("SELECT count(stackseam_listen(x)) FROM unnest($1::text[]) x", [ids]);
    }
  };
  try {
    for (const mode of ["engine", "minimal"]) pools[mode] = await startWorkers(mode, 8, common);
    log("notify: warm-up");
    await pair(pools, db, aws, 8, "warm", 200);
    for (let rep = 0; rep < reps; rep++) {
      for (const n of levels) {
        // Rotate which variant goes first, so a drift in machine load favours none.
        const variants = VARIANTS.map((_, i) => VARIANTS[(i + rep + n) % VARIANTS.length]);
        for (const variant of variants) {
          const prefix = `n${rep}${n}${variant[0]}`;
          await watch(variant, prefix);
          const r = await pair(pools, db, aws, n, prefix, stacks, { order: rep });
          runs.push({ rep, n, variant, ...r });
          log(
            `notify: rep ${rep + 1}/${reps}, ${n} worker(s), trigger ${variant === "off" ? "off" : `on, waiters on ${variant === "one" ? "one stack" : "every stack"}`}: engine ${r.engine.eventsPerSec.toFixed(0)} ev/s, minimal ${r.minimal.eventsPerSec.toFixed(0)}`,
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
    const at = (variant) => runs.filter((r) => r.n === n && r.variant === variant);
    const perRep = (mode, variant) =>
      [...new Set(runs.map((r) => r.rep))].map((rep) => {
        const on = at(variant).find((r) => r.rep === rep)[mode];
        const off = at("off").find((r) => r.rep === rep)[mode];
        return on.eventsPerSec / off.eventsPerSec;
      });
    return {
      n,
      engine: {
        on: side(at("one").map((r) => r.engine)),
        off: side(at("off").map((r) => r.engine)),
        all: side(at("all").map((r) => r.engine)),
      },
      minimal: {
        on: side(at("one").map((r) => r.minimal)),
        off: side(at("off").map((r) => r.minimal)),
        all: side(at("all").map((r) => r.minimal)),
      },
      engineRatio: median(perRep("engine", "one")),
      engineRatios: perRep("engine", "one"),
      minimalRatio: median(perRep("minimal", "one")),
      minimalRatios: perRep("minimal", "one"),
      engineAllRatio: median(perRep("engine", "all")),
      engineAllRatios: perRep("engine", "all"),
    };
  });
  return { levels, reps, stacks, summary, gated: true };
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
        const r = await pair(workers[size], db, aws, 1, `p${rep}s${size}`, stacks, { order: rep + size });
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
