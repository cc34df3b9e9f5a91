#!/usr/bin/env node
// The tick's cost at scale: 100,000 stacks, each with a pending task and its timeout timer, of
// which 1,000 are due. Each run restores the 1,000 due stacks and runs one real tick (createTick,
// the same code as `index.tick`), which claims the due timers through the index and fires each as
// a TIMER event (lock, decision, history, timers rewritten). Prints ms per tick, p50 / p95.
//
//   npm run build && node bench/tick.mjs [--stacks 100000] [--due 1000] [--runs 7]
//
// Needs DATABASE_URL (a server where a scratch database may be created), else an embedded Postgres.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SQSClient } from "@aws-sdk/client-sqs";
import { parseSpec } from "@stackseam/core";
import { createPool, createTick, databaseFromPool, localMachineSource } from "@stackseam/state-manager";
import pg from "pg";
import { CREDENTIALS, createDatabase, REGION, startAws, startPostgres } from "./lib/infra.mjs";
import { quantile } from "./lib/stats.mjs";

const { values } = parseArgs({
  options: {
    stacks: { type: "string", default: "100000" },
    due: { type: "string", default: "1000" },
    runs: { type: "string", default: "7" },
  },
});
const STACKS = Number(values.stacks);
const DUE = Number(values.due);
const RUNS = Number(values.runs);

const SPEC = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  apply:
    executor: lambda
    config: { name: apply }
    timeout: 30m
`;

const log = (line) => process.stderr.write(`${line}\n`);
const began = performance.now();
const postgres = await startPostgres(log);
const aws = await startAws();
const database = await createDatabase(postgres.adminUrl);
const dir = await mkdtemp(join(tmpdir(), "stackseam-bench-tick-"));
try {
  await writeFile(join(dir, "ticked.yml"), SPEC);
  const machine = parseSpec(SPEC, { name: "ticked" }).machine;
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();

  // Every stack waits on apply; the first DUE are past their deadline, the rest an hour away.
  const now = new Date();
  const past = new Date(now.getTime() - 60_000).toISOString();
  const future = new Date(now.getTime() + 3_600_000).toISOString();
  const seeded = performance.now();
  await client.query(`INSERT INTO machine_versions (machine, version, source) VALUES ('ticked', $1, $2)`, [
    machine.version,
    SPEC,
  ]);
  const seed = async (fromIndex, toIndex) =>
    client.query(
      `INSERT INTO stacks (id, machine, version, state, metadata, tasks, entry, created_at, updated_at, entered_at, active_at)
       SELECT 's-' || lpad(i::text, 7, '0'), 'ticked', $1, 'PROVISION', '{}'::jsonb,
              jsonb_build_array(jsonb_build_object('name', 'apply', 'status', 'PENDING', 'token', 'tok-' || i,
                'attempt', 1, 'dispatchedAt', $2::text, 'deadline', CASE WHEN i < $3 THEN $4::text ELSE $5::text END)),
              1, $2::timestamptz, $2::timestamptz, $2::timestamptz, $2::timestamptz
       FROM generate_series($6::int, $7::int - 1) AS i`,
      [
        machine.version,
        new Date(now.getTime() - 31 * 60_000).toISOString(),
        DUE,
        past,
        future,
        fromIndex,
        toIndex,
      ],
    );
  for (let i = 0; i < STACKS; i += 50_000) await seed(i, Math.min(STACKS, i + 50_000));
  await client.query(
    `INSERT INTO timers (stack_id, name, due_at)
     SELECT id, 'timeout:apply', (tasks->0->>'deadline')::timestamptz FROM stacks`,
  );
  await client.query("ANALYZE");
  log(
    `seeded ${STACKS.toLocaleString("en-US")} stacks and timers (${DUE} due) in ${((performance.now() - seeded) / 1000).toFixed(1)} s`,
  );

  // What each run restores: the due stacks back to pending, their history of the run gone.
  const restore = async () => {
    await client.query(
      `UPDATE stacks SET tasks = jsonb_build_array(jsonb_build_object('name', 'apply', 'status', 'PENDING',
         'token', 'tok-' || substr(id, 3)::int, 'attempt', 1, 'dispatchedAt', $1::text, 'deadline', $2::text)),
         updated_at = $1::timestamptz
       WHERE id < $3`,
      [new Date(now.getTime() - 31 * 60_000).toISOString(), past, `s-${String(DUE).padStart(7, "0")}`],
    );
    await client.query(
      `INSERT INTO timers (stack_id, name, due_at)
       SELECT id, 'timeout:apply', $1::timestamptz FROM stacks WHERE id < $2
       ON CONFLICT (stack_id, name) DO UPDATE SET due_at = EXCLUDED.due_at, claimed_until = NULL`,
      [past, `s-${String(DUE).padStart(7, "0")}`],
    );
    await client.query(`DELETE FROM timers WHERE name LIKE 'retry:%'`);
    await client.query(`DELETE FROM history`);
  };

  const pool = createPool(database.url, { max: 2 });
  const db = databaseFromPool(pool);
  const sqs = new SQSClient({ endpoint: aws.endpoint, region: REGION, credentials: CREDENTIALS });
  const logger = {
    info() {},
    warn() {},
    error() {},
    debug() {},
    createChild() {
      return logger;
    },
    appendKeys() {},
  };
  const deps = { now: () => new Date(), newToken: () => crypto.randomUUID(), random: Math.random };
  const ms = [];
  const claimMs = [];
  for (let run = 0; run < RUNS; run++) {
    await restore();
    const tick = createTick({
      db,
      sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines: localMachineSource({ dir }),
      deps,
      logger,
    });
    const result = await tick.run();
    if (result.timersFired !== DUE)
      throw new Error(`run ${run}: fired ${result.timersFired}, expected ${DUE}`);
    ms.push(result.ms);
    // The claim alone: what the tick costs when nothing is due (the index, not the 100,000 rows).
    const t0 = performance.now();
    await tick.run();
    claimMs.push(performance.now() - t0);
    log(
      `run ${run + 1}/${RUNS}: tick fired ${result.timersFired} timers in ${result.ms} ms; an idle tick after it: ${(performance.now() - t0).toFixed(1)} ms`,
    );
  }
  await db.destroy();
  sqs.destroy();
  await client.end();
  const p = (xs, q) => quantile(xs, q / 100).toFixed(0);
  console.log(
    JSON.stringify(
      {
        stacks: STACKS,
        due: DUE,
        runs: RUNS,
        tickMs: { p50: Number(p(ms, 50)), p95: Number(p(ms, 95)) },
        perTimerMs: Number((quantile(ms, 0.5) / DUE).toFixed(2)),
        idleTickMs: {
          p50: Number(quantile(claimMs, 0.5).toFixed(1)),
          p95: Number(quantile(claimMs, 0.95).toFixed(1)),
        },
        loadAverage: loadavg()[0],
        seconds: Math.round((performance.now() - began) / 1000),
      },
      null,
      2,
    ),
  );
} finally {
  await database.drop();
  await aws.stop();
  await postgres.stop();
  await rm(dir, { recursive: true, force: true });
}
