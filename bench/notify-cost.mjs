#!/usr/bin/env node
// What migration 003's NOTIFY costs the write path: event-sized transactions (BEGIN, one history
// INSERT, COMMIT) from concurrent writers, with and without the history_notify trigger, alternated.
// A NOTIFY takes a database-wide lock at commit to queue its notification, so concurrent
// committers of notifying transactions serialise there. Not a test; prints a table.
//
//   node bench/notify-cost.mjs [--writers 1,4,8] [--seconds 5] [--rounds 3] [--no-listener]
import { parseArgs } from "node:util";
import pg from "pg";
import { createDatabase, historyTrigger, startPostgres } from "./lib/infra.mjs";
import { median } from "./lib/stats.mjs";

const { values } = parseArgs({
  options: {
    writers: { type: "string", default: "1,4,8" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    // Without a waiter, the trigger (since migration 009) only looks for one and notifies nothing.
    "no-listener": { type: "boolean", default: false },
  },
});
const log = (line) => process.stderr.write(`${line}\n`);

async function measure(url, writers, ms) {
  const clients = await Promise.all(
    Array.from({ length: writers }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  let count = 0;
  const until = Date.now() + ms;
  await Promise.all(
    clients.map(async (c, w) => {
      for (let i = 0; Date.now() < until; i++) {
        await c.query("BEGIN");
        await c.query(
          "INSERT INTO history (stack_id, event, event_key, outcome, from_state, to_state) VALUES ($1, 'TOUCH', $2, 'applied', 'RUN', 'RUN')",
          [`bench-${w}-${i % 100}`, `k-${w}-${i}-${Math.random()}`],
        );
        await c.query("COMMIT");
        count++;
      }
    }),
  );
  await Promise.all(clients.map((c) => c.end()));
  return (count / ms) * 1000;
}

const postgres = await startPostgres(log);
const db = await createDatabase(postgres.adminUrl);
const admin = new pg.Client({ connectionString: db.url });
await admin.connect();
// A waiter on one of the writers' stacks, as a waiting CLI is: LISTEN and register (migrations 009 and
// 010), so that stack's rows notify and the others' pass the trigger's gate without running it.
if (!values["no-listener"]) {
  await admin.query('LISTEN "stackseam.bench-0-1"');
  await admin.query("SELECT stackseam_listen('bench-0-1')");
}
const trigger = await historyTrigger(admin);
const rows = [];
try {
  for (const writers of values.writers.split(",").map(Number)) {
    const withTrigger = [];
    const without = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      withTrigger.push(await measure(db.url, writers, Number(values.seconds) * 1000));
      await admin.query("DROP TRIGGER history_notify ON history");
      without.push(await measure(db.url, writers, Number(values.seconds) * 1000));
      await admin.query(trigger);
    }
    const a = median(withTrigger);
    const b = median(without);
    rows.push({ writers, withTrigger: Math.round(a), without: Math.round(b), ratio: (a / b).toFixed(2) });
    log(JSON.stringify(rows.at(-1)));
  }
} finally {
  await admin.end();
  await db.drop();
  await postgres.stop();
}
process.stdout.write("| writers | tx/s with NOTIFY | tx/s without | ratio |\n| --- | --- | --- | --- |\n");
for (const r of rows)
  process.stdout.write(`| ${r.writers} | ${r.withTrigger} | ${r.without} | ${r.ratio} |\n`);
