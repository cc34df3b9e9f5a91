#!/usr/bin/env node
// §6 Flat at scale: a database as a year of use leaves it (100,000 stacks, 10,000,000 history rows,
// 100,000 timers), the reads behind the CLI, `stackseam wait`, the dashboard and the tick's claim
// of due timers (server round trip p50/p95 and their EXPLAIN (ANALYZE, BUFFERS) plans), event
// throughput on it against an empty database, and pruning history older than 90 days while events
// flow. Run by `npm run bench` (section "scale"), or alone:
//
//   npm run build && node bench/scale.mjs [--quick] [--stacks N] [--history N]   # prints, writes nothing
//
// Needs DATABASE_URL (a server where scratch databases may be created), else an embedded Postgres.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { createDatabase, MACHINE, ROOT, SPEC_FILE } from "./lib/infra.mjs";
import { seedScale } from "./lib/seed-scale.mjs";
import { median, quantile } from "./lib/stats.mjs";
import { pair, side, startWorkers, stopWorkers } from "./throughput.mjs";

const STACKS = 100_000;
const HISTORY = 10_000_000;
const TIMERS_DUE = 1_000;
/** The server time every read must stay under at p95. */
export const READ_TARGET_MS = 20;

const cli = (path) => import(pathToFileURL(join(ROOT, "packages/cli/dist", path)).href);

/** A pg pool whose clients time and remember every statement (text, values, ms). */
function timedPool(url) {
  const pool = new pg.Pool({ connectionString: url, max: 4, application_name: "stackseam-bench-scale" });
  const tape = { on: false, statements: [] };
  pool.on("connect", (client) => {
    const query = client.query.bind(client);
    client.query = (text, values, ...rest) => {
      const t0 = performance.now();
      const result = query(text, values, ...rest);
      if (tape.on && typeof text === "string" && result && typeof result.then === "function") {
        const entry = { text, values, ms: null };
        tape.statements.push(entry);
        result.then(
          () => {
            entry.ms = performance.now() - t0;
          },
          () => {},
        );
      }
      return result;
    };
  });
  return { pool, tape };
}

/** The reads to time: what each CLI command, wait step, dashboard page and the tick send. */
async function readCases(sm, db, admin, tickClaim) {
  const {
    latestHistoryId: stackLatest,
    historyAfter,
    rowsOfEvent,
    lastApplied,
  } = await cli("watch/reads.js");
  const { readStackTime } = await cli("stack-time.js");
  const { versionStatus } = await cli("versions/version-status.js");
  const id = (rnd) => `seed-${String(1 + Math.floor(rnd() * STACKS_SEEDED.n)).padStart(6, "0")}`;
  const latest = Number((await admin.query("SELECT max(id) AS m FROM history")).rows[0].m);
  return [
    ["CLI", "stacks list", () => sm.listStacks(db, { limit: 101 })],
    ["CLI", "stacks list --after <id>", (r) => sm.listStacks(db, { limit: 101, after: id(r) })],
    [
      "CLI",
      "stacks list --machine qa-env --state RUN",
      () => sm.listStacks(db, { machine: MACHINE, state: "RUN", limit: 101 }),
    ],
    ["CLI", "stacks list --state FREEZING (2 %)", () => sm.listStacks(db, { state: "FREEZING", limit: 101 })],
    [
      "CLI",
      "stacks show <id>",
      async (r) => {
        const stack = await sm.getStack(db, id(r));
        await Promise.all([versionStatus(db, stack), readStackTime(db, stack)]);
      },
    ],
    ["CLI", "stacks history <id>", (r) => sm.getHistory(db, id(r))],
    [
      "wait",
      "wait: start (newest row of the stack, the stack)",
      async (r) => {
        const s = id(r);
        await stackLatest(db, s);
        await sm.getStack(db, s);
      },
    ],
    ["wait", "wait: wake-up (rows after the cursor)", (r) => historyAfter(db, id(r), latest - 50_000)],
    [
      "wait",
      "wait: the rows of an event key",
      (r) => rowsOfEvent(db, id(r), `seed-${Math.floor(r() * 1e6)}`),
    ],
    ["wait", "wait: last applied row (a removed stack)", (r) => lastApplied(db, id(r))],
    [
      "dashboard",
      "stacks page (counts, first page by id, cursor)",
      async () => {
        await Promise.all([
          sm.stateCounts(db),
          sm.searchStacks(db, { sort: "id", limit: 50 }),
          sm.latestHistoryId(db),
        ]);
      },
    ],
    [
      "dashboard",
      "stacks page, most recently active first",
      () => sm.searchStacks(db, { sort: "-active", limit: 50 }),
    ],
    ["dashboard", "stacks page, failed only", () => sm.searchStacks(db, { failed: true, limit: 50 })],
    ["dashboard", "stacks page, state FROZEN", () => sm.searchStacks(db, { state: "FROZEN", limit: 50 })],
    [
      "dashboard",
      "stacks page, idle > 30 days (with its count)",
      async () => {
        await sm.searchStacks(db, { idleSeconds: 30 * 86_400, limit: 50 });
        await sm.countStacks(db, { idleSeconds: 30 * 86_400 });
      },
    ],
    [
      "dashboard",
      "stacks page, text search (with its count)",
      async (r) => {
        const text = `feature/${1 + Math.floor(r() * STACKS_SEEDED.n)}`;
        await sm.searchStacks(db, { text, limit: 50 });
        await sm.countStacks(db, { text });
      },
    ],
    [
      "dashboard",
      "stack page (stack, history page, timers)",
      async (r) => {
        const s = id(r);
        await Promise.all([sm.getStack(db, s), sm.historyPage(db, s), sm.stackTimers(db, s)]);
      },
    ],
    [
      "dashboard",
      "live updates (stacks changed since the cursor)",
      () => sm.changedStacks(db, latest - 200, 100),
    ],
    ["dashboard", "machines page (versions and their stacks)", () => sm.machineVersionList(db)],
    ["tick", "tick: claim due timers (200 of 1,000 due)", () => tickClaim()],
  ];
}

const STACKS_SEEDED = { n: STACKS };

/** A seeded PRNG, so every run reads the same stacks. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The tick's claim statement as the real tick sends it (recorded from one run with nothing due). */
async function recordTickClaim(sm, url, aws, admin, now) {
  const { pool, tape } = timedPool(url);
  const db = sm.databaseFromPool(pool);
  const past = new Date(0);
  try {
    const { SQSClient } = await import("@aws-sdk/client-sqs");
    const sqs = new SQSClient({
      endpoint: aws.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    const tick = sm.createTick({
      db,
      sqs,
      taskQueueUrl: aws.newQueue("scale-tick"),
      machines: sm.localMachineSource({ dir: dirname(SPEC_FILE) }),
      logger: { info() {}, warn() {}, error() {}, debug() {}, addContext() {} },
      deps: { now: () => past, newToken: () => "x", random: Math.random },
    });
    tape.on = true;
    await tick.run(5_000);
    sqs.destroy();
  } finally {
    await db.destroy();
  }
  const claim = tape.statements.find((s) => /^\s*UPDATE timers SET claimed_until/.test(s.text));
  if (!claim) throw new Error("scale: the tick sent no timer claim");
  // Its parameters: the lease end, then `now` (twice), then the batch size; our `now` has due timers.
  const values = claim.values.map((v) =>
    v instanceof Date ? (v.getTime() === past.getTime() ? now : new Date(now.getTime() + 120_000)) : v,
  );
  return {
    text: claim.text,
    values,
    async run() {
      // Claimed and released again, so every run claims the same rows.
      await admin.query("BEGIN");
      try {
        const t0 = performance.now();
        const res = await admin.query(claim.text, values);
        return { ms: performance.now() - t0, rows: res.rowCount };
      } finally {
        await admin.query("ROLLBACK");
      }
    },
  };
}

/** Times every read case `runs` times; returns per case and per statement p50/p95, and the plans. */
async function timeReads(sm, url, aws, admin, { runs, now, log }) {
  const { pool, tape } = timedPool(url);
  const db = sm.databaseFromPool(pool);
  const claim = await recordTickClaim(sm, url, aws, admin, now);
  const claimTimes = [];
  const cases = await readCases(sm, db, admin, async () => {
    claimTimes.push(await claim.run());
  });
  const results = [];
  try {
    for (const [area, name, fn] of cases) {
      const random = rng(42);
      // A warm cache: a first pass not timed (the shared buffers start cold after seeding).
      for (let i = 0; i < 3; i++) await fn(random);
      claimTimes.length = 0;
      tape.statements = [];
      const totals = [];
      // At most `runs` runs, and no more than a time budget for a slow read (at least 20 runs).
      const until = performance.now() + 20_000;
      for (let i = 0; i < runs && (i < 20 || performance.now() < until); i++) {
        tape.on = true;
        const t0 = performance.now();
        await fn(random);
        totals.push(performance.now() - t0);
        tape.on = false;
      }
      // Group by statement text: each distinct statement is a query of its own. Its server time is
      // taken again by the server itself (EXPLAIN ANALYZE without per-node timing: planning plus
      // execution), with the same parameters, so a client thread waiting for a core does not count.
      const byText = new Map();
      if (claimTimes.length > 0)
        byText.set("claim", {
          text: claim.text,
          runs: claimTimes.map((c) => ({ values: claim.values, ms: c.ms })),
        });
      for (const s of tape.statements) {
        const g = byText.get(s.text) ?? { text: s.text, runs: [] };
        g.runs.push({ values: s.values, ms: s.ms });
        byText.set(s.text, g);
      }
      const statements = [];
      for (const g of byText.values()) {
        const server = [];
        for (const run of g.runs) server.push(await serverMs(admin, g.text, run.values));
        statements.push({
          text: g.text,
          values: g.runs[0].values,
          count: g.runs.length,
          p50: median(g.runs.map((r) => r.ms)),
          p95: quantile(
            g.runs.map((r) => r.ms),
            0.95,
          ),
          serverP50: median(server),
          serverP95: quantile(server, 0.95),
        });
      }
      const worst = Math.max(...statements.map((s) => s.serverP95));
      results.push({
        area,
        name,
        runs: totals.length,
        totalP50: median(totals),
        totalP95: quantile(totals, 0.95),
        statements,
        worstP95: worst,
      });
      log(
        `scale: ${name}: ${statements.length} statement(s), worst server p95 ${worst.toFixed(2)} ms (round trip ${Math.max(...statements.map((x) => x.p95)).toFixed(2)} ms)`,
      );
    }
    // Plans: one EXPLAIN (ANALYZE, BUFFERS) per distinct statement, with the parameters it ran with.
    for (const r of results) {
      for (const s of r.statements) {
        s.plan = await explain(admin, s.text, s.values);
      }
    }
  } finally {
    await db.destroy();
  }
  return results;
}

/** The server's own time for a statement (planning + execution), rolled back if it writes. */
async function serverMs(admin, text, values) {
  await admin.query("BEGIN");
  try {
    const { rows } = await admin.query(
      `EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) ${text}`,
      values,
    );
    const plan = rows[0]["QUERY PLAN"][0];
    return plan["Planning Time"] + plan["Execution Time"];
  } finally {
    await admin.query("ROLLBACK");
  }
}

async function explain(admin, text, values) {
  await admin.query("BEGIN");
  try {
    const { rows } = await admin.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values);
    return rows.map((r) => r["QUERY PLAN"]).join("\n");
  } finally {
    await admin.query("ROLLBACK");
  }
}

/** Whether a plan reads the big tables through an index (no sequential scan of stacks or history). */
export function usesIndexes(plan) {
  return !/Seq Scan on (stacks|history)\b/.test(plan);
}

/** Engine and minimal ceiling at 1 and 8 workers on the seeded database and on an empty one, alternated. */
async function scaleThroughput({ adminUrl, aws, log, quick, seededUrl, enginePath }) {
  const empty = await createDatabase(adminUrl);
  const reps = quick ? 1 : 3;
  const stacks = quick ? 200 : 1000;
  const runs = [];
  const dbs = {};
  for (const [name, url] of [
    ["empty", empty.url],
    ["seeded", seededUrl],
  ]) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    // The workload's stacks get ids of their own each run: nothing is emptied between runs.
    dbs[name] = { url, client, reset: async () => {} };
  }
  const pools = {};
  try {
    for (const name of Object.keys(dbs)) {
      const common = {
        dbUrl: dbs[name].url,
        endpoint: aws.endpoint,
        bucket: aws.bucket,
        prefix: aws.prefix,
        enginePath,
      };
      pools[name] = {
        engine: await startWorkers("engine", 8, common),
        minimal: await startWorkers("minimal", 8, common),
      };
      await pair(pools[name], dbs[name], aws, 8, `w${name}`, 200, { fresh: true });
    }
    for (let rep = 0; rep < reps; rep++) {
      for (const n of [1, 8]) {
        const order = (rep + n) % 2 === 0 ? ["empty", "seeded"] : ["seeded", "empty"];
        for (const name of order) {
          // Every container new: both databases' pools kept open would take 96 connections.
          const r = await pair(pools[name], dbs[name], aws, n, `x${rep}n${n}${name[0]}`, stacks, {
            order: rep,
            fresh: true,
          });
          runs.push({ rep, n, db: name, ...r });
          log(
            `scale: throughput rep ${rep + 1}/${reps}, ${n} worker(s), ${name}: engine ${r.engine.eventsPerSec.toFixed(0)} ev/s, minimal ${r.minimal.eventsPerSec.toFixed(0)}`,
          );
        }
      }
    }
  } finally {
    for (const p of Object.values(pools)) {
      await stopWorkers(p.engine);
      await stopWorkers(p.minimal);
    }
    for (const d of Object.values(dbs)) await d.client.end();
    await empty.drop();
  }
  return [1, 8].map((n) => {
    const at = (db) => runs.filter((r) => r.n === n && r.db === db);
    const ratios = [...new Set(runs.map((r) => r.rep))].map(
      (rep) =>
        at("seeded").find((r) => r.rep === rep).engine.eventsPerSec /
        at("empty").find((r) => r.rep === rep).engine.eventsPerSec,
    );
    return {
      n,
      empty: side(at("empty").map((r) => r.engine)),
      seeded: side(at("seeded").map((r) => r.engine)),
      minimalEmpty: side(at("empty").map((r) => r.minimal)),
      minimalSeeded: side(at("seeded").map((r) => r.minimal)),
      ratio: median(ratios),
      ratios,
    };
  });
}

/**
 * Prunes history older than 90 days (three quarters of the seeded rows) while one engine worker
 * processes events: events/s before and during, and how long each batch (statement) took.
 */
async function pruneWhileFlowing({ sm, aws, log, quick, url, enginePath, admin }) {
  const common = { dbUrl: url, endpoint: aws.endpoint, bucket: aws.bucket, prefix: aws.prefix, enginePath };
  const workers = { engine: await startWorkers("engine", 1, common) };
  const db = { url, client: admin, reset: async () => {} };
  const stacks = quick ? 100 : 500;
  const batchMs = [];
  try {
    const before = [];
    const engineOnly = (prefix) => pair(workers, db, aws, 1, prefix, stacks, { modes: ["engine"] });
    for (let i = 0; i < 3; i++) before.push((await engineOnly(`pb${i}`)).engine.eventsPerSec);
    const pruneDb = sm.openDatabase(url, { max: 1, applicationName: "stackseam-bench-prune" });
    let done = false;
    const pruning = sm
      .prune(pruneDb, { historyOlderThanMs: 90 * 86_400_000, onBatch: (_t, _n, ms) => batchMs.push(ms) })
      .finally(() => {
        done = true;
      });
    const during = [];
    for (let i = 0; !done; i++) {
      const r = await engineOnly(`pd${i}`);
      if (!done) during.push(r.engine.eventsPerSec);
    }
    const result = await pruning;
    await pruneDb.destroy();
    const left = (await admin.query("SELECT count(*)::bigint AS n, min(created_at) AS oldest FROM history"))
      .rows[0];
    log(
      `scale: pruned ${result.deleted.history} history rows in ${(result.ms / 1000).toFixed(0)} s (${result.batches} batches, longest ${result.longestBatchMs.toFixed(0)} ms); events/s before ${median(before).toFixed(0)}, during ${median(during).toFixed(0)}`,
    );
    return {
      deleted: result.deleted.history,
      seconds: result.ms / 1000,
      batches: result.batches,
      longestBatchMs: result.longestBatchMs,
      batchP50: median(batchMs),
      batchP95: quantile(batchMs, 0.95),
      rowsLeft: Number(left.n),
      oldestLeft: left.oldest,
      before: median(before),
      during: during.length > 0 ? median(during) : null,
      duringRuns: during.length,
      ratio: during.length > 0 ? median(during) / median(before) : null,
    };
  } finally {
    await stopWorkers(workers.engine);
  }
}

/** §6: seed, time the reads, compare throughput, prune while events flow. */
export async function runScale({ adminUrl, aws, quick, log, enginePath }) {
  const began = performance.now();
  const sm = await import("@stackseam/state-manager");
  const { parseSpec } = await import("@stackseam/core");
  const stacks = quick ? 10_000 : STACKS;
  const history = quick ? 200_000 : HISTORY;
  STACKS_SEEDED.n = stacks;
  const db = await createDatabase(adminUrl);
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    const source = await readFile(SPEC_FILE, "utf8");
    const machine = parseSpec(source, { name: MACHINE }).machine;
    await admin.query(
      "INSERT INTO machine_versions (machine, version, source, origin) VALUES ($1, $2, $3, $4)",
      [MACHINE, machine.version, source, SPEC_FILE],
    );
    const now = new Date();
    const t0 = performance.now();
    const seedSeconds = await seedScale(admin, {
      stacks,
      history,
      due: TIMERS_DUE,
      version: machine.version,
      now,
      log,
    });
    const seedTotal = (performance.now() - t0) / 1000;
    const size = (
      await admin.query(
        `SELECT (SELECT count(*) FROM stacks)::int AS stacks, (SELECT count(*) FROM history)::bigint AS history,
                (SELECT count(*) FROM timers)::int AS timers, pg_database_size(current_database())::bigint AS bytes`,
      )
    ).rows[0];
    log(
      `scale: seeded ${size.stacks} stacks, ${size.history} history rows, ${size.timers} timers in ${seedTotal.toFixed(0)} s (${(Number(size.bytes) / 2 ** 30).toFixed(1)} GiB)`,
    );
    const reads = await timeReads(sm, db.url, aws, admin, { runs: quick ? 20 : 200, now, log });
    const throughput = await scaleThroughput({ adminUrl, aws, log, quick, seededUrl: db.url, enginePath });
    const pruned = await pruneWhileFlowing({ sm, aws, log, quick, url: db.url, enginePath, admin });
    return {
      sectionMinutes: (performance.now() - began) / 60_000,
      prune: pruned,
      stacks,
      history,
      timersDue: TIMERS_DUE,
      seed: { seconds: seedSeconds, total: seedTotal, bytes: Number(size.bytes), counts: size },
      reads,
      throughput,
    };
  } finally {
    await admin.end();
    await db.drop();
  }
}

// Alone: `node bench/scale.mjs` prints the figures (the document is written by `npm run bench`).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
  const { startAws, startPostgres } = await import("./lib/infra.mjs");
  const log = (line) => process.stderr.write(`${line}\n`);
  const postgres = await startPostgres(log);
  const aws = await startAws();
  try {
    const r = await runScale({ adminUrl: postgres.adminUrl, aws, quick: values.quick, log });
    for (const q of r.reads)
      process.stdout.write(`${q.area}\t${q.name}\tworst p95 ${q.worstP95.toFixed(2)} ms\n`);
    for (const t of r.throughput)
      process.stdout.write(
        `${t.n} worker(s): seeded/empty ${t.ratio.toFixed(2)} (${t.seeded.eventsPerSec.toFixed(0)} / ${t.empty.eventsPerSec.toFixed(0)})\n`,
      );
  } finally {
    await aws.stop();
    await postgres.stop();
  }
  process.exit(0);
}
