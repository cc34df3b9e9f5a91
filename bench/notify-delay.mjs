#!/usr/bin/env node
// What a failing notification target costs a transition: the real State Manager (its defaults:
// NOTIFICATION_TIMEOUT_MS and NOTIFICATION_BATCH_BUDGET_MS 2 s) over Postgres, one LAUNCH per SQS
// batch, against a machine with no notifications, one whose webhook accepts connections and never
// answers, and one whose webhook answers 500 at once. Not a test: nothing here asserts a time.
//
//   node bench/notify-delay.mjs [--events 20] [--write]
//
// Needs the workspace built (`npm run build`). Measured per event, from the moment the record is
// handed to the State Manager:
//   - committed: the stack's history row is visible to another connection (LISTEN on the stack's
//     channel: migrations/003_history_notify.sql notifies at commit);
//   - returned: the batch returned to Lambda (what the next batch of the container waits for).
// --write puts the table into docs/spec-reference.md (between markers).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Logger } from "@aws-lambda-powertools/logger";
import { SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import {
  CREDENTIALS,
  createDatabase,
  machineDescription,
  postgresDescription,
  REGION,
  ROOT,
  startAws,
  startPostgres,
} from "./lib/infra.mjs";
import { fmt, quantile, table } from "./lib/stats.mjs";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "20" },
    write: { type: "boolean", default: false },
  },
});
const EVENTS = Number(values.events);
const WARMUP = 3;
const DOC = join(ROOT, "docs/spec-reference.md");
const began = performance.now();
const log = (line) =>
  process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

/** A webhook receiver: /hang/… accepts and never answers, /fail/… answers 500. */
async function startReceiver() {
  const open = new Set();
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.url?.startsWith("/fail/")) res.writeHead(500).end();
      else open.add(res);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    async stop() {
      for (const res of open) res.destroy?.();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function spec(target) {
  return `version: 1
events: [LAUNCH, DESTROY]
${
  target
    ? `notifications:
  - name: hook
    on: [state-entered]
    states: [PROVISION]
    webhook: { url: "${target}" }
`
    : ""
}states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
      DESTROY: [{ action: advance, state: GONE }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
tasks:
  apply:
    executor: lambda
    config: { name: apply }
`;
}

function record(body, messageId) {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "0",
      SenderId: "bench",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:stackseam-events",
    awsRegion: REGION,
  };
}

/**
 * One scenario: a fresh State Manager container, WARMUP launches of the quiet machine (connections,
 * caches, JIT), then EVENTS of the scenario's machine, one per batch: the first batch that meets a
 * failing target is among those measured.
 */
async function scenario(sm, url, machine, label) {
  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  const committed = new Map();
  listener.on("notification", (n) => {
    if (!committed.has(n.payload)) committed.set(n.payload, performance.now());
  });
  const { createStateManager, openDatabase } = sm;
  const db = openDatabase(url, { max: 3 });
  const aws = sm.aws;
  const manager = createStateManager({
    db,
    sqs: aws.sqs,
    taskQueueUrl: aws.taskQueueUrl,
    machines: sm.machines,
    logger: new Logger({ serviceName: "bench", logLevel: "SILENT" }),
    concurrency: 3,
  });
  const rows = [];
  try {
    for (let i = 0; i < WARMUP + EVENTS; i++) {
      const stackId = `${label}-${i}`;
      await listener.query(`LISTEN "stackseam.${stackId}"`);
      const started = performance.now();
      const res = await manager.processRecords([
        record({ stackId, event: "LAUNCH", machine: i < WARMUP ? "quiet" : machine }, `${label}-msg-${i}`),
      ]);
      const returned = performance.now();
      if (res.batchItemFailures.length > 0) throw new Error(`${stackId}: the batch returned its record`);
      // The notification can trail the batch's return by a hair: wait for it (bounded).
      for (let w = 0; w < 200 && !committed.has(stackId); w++) await new Promise((r) => setTimeout(r, 5));
      const at = committed.get(stackId);
      if (at === undefined) throw new Error(`${stackId}: no commit seen`);
      await listener.query(`UNLISTEN "stackseam.${stackId}"`);
      if (i >= WARMUP) rows.push({ committed: at - started, returned: returned - started });
    }
    const { rows: states } = await listener.query(
      "SELECT count(*)::int AS n FROM stacks WHERE id LIKE $1 AND state = 'PROVISION'",
      [`${label}-%`],
    );
    if (states[0].n !== WARMUP + EVENTS) throw new Error(`${label}: ${states[0].n} stacks in PROVISION`);
    const { rows: notes } = await listener.query(
      `SELECT count(*) FILTER (WHERE sent_at IS NOT NULL)::int AS sent,
              count(*) FILTER (WHERE attempts > 0 AND sent_at IS NULL)::int AS failed_attempts,
              count(*) FILTER (WHERE attempts = 0)::int AS left_to_tick
       FROM notifications WHERE stack_id LIKE $1`,
      [`${label}-%`],
    );
    return { rows, notes: notes[0] };
  } finally {
    await manager.close();
    await db.destroy();
    await listener.end();
  }
}

function replaceBlock(text, content) {
  const start = "<!-- bench/notify-delay.mjs figures -->";
  const end = "<!-- /bench/notify-delay.mjs figures -->";
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`no ${start} … ${end} block to write into`);
  return `${text.slice(0, i + start.length)}\n${content.trimEnd()}\n${text.slice(j)}`;
}

async function main() {
  const machineInfo = await machineDescription();
  const load = loadavg()[0];
  const postgres = await startPostgres(log);
  const database = await createDatabase(postgres.adminUrl);
  const fauxqs = await startAws();
  const receiver = await startReceiver();
  const dir = await mkdtemp(join(tmpdir(), "stackseam-bench-notify-"));
  const sqs = new SQSClient({ endpoint: fauxqs.endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const sm = await import("@stackseam/state-manager");
    await writeFile(join(dir, "quiet.yml"), spec(null));
    await writeFile(join(dir, "hangs.yml"), spec(`${receiver.base}/hang/T000/B000/token`));
    await writeFile(join(dir, "fails.yml"), spec(`${receiver.base}/fail/T000/B000/token`));
    const ctx = {
      ...sm,
      aws: { sqs, taskQueueUrl: fauxqs.newQueue("tasks") },
      machines: sm.localMachineSource({ dir }),
    };
    const scenarios = [
      ["no notifications", "quiet"],
      ["a webhook that never answers", "hangs"],
      ["a webhook that answers 500", "fails"],
    ];
    const results = [];
    for (const [title, machine] of scenarios) {
      log(`${title}: ${WARMUP} + ${EVENTS} events`);
      results.push({ title, ...(await scenario(ctx, database.url, machine, `${machine}-run`)) });
    }
    const ms = (v) => `${fmt(v, v < 10 ? 1 : 0)} ms`;
    const body = table(
      [
        "target",
        "event → committed, p50 / p95",
        "batch returned, p50 / p95 / max",
        "batches that waited for the target",
        "notifications sent / failed once / left to the tick",
      ],
      results.map((r) => {
        const c = r.rows.map((x) => x.committed);
        const b = r.rows.map((x) => x.returned);
        const waited = r.rows.filter((x) => x.returned - x.committed > 500).length;
        return [
          r.title,
          `${ms(quantile(c, 0.5))} / ${ms(quantile(c, 0.95))}`,
          `${ms(quantile(b, 0.5))} / ${ms(quantile(b, 0.95))} / ${ms(Math.max(...b))}`,
          `${waited} of ${r.rows.length}`,
          r.title === "no notifications"
            ? "–"
            : `${r.notes.sent} / ${r.notes.failed_attempts} / ${r.notes.left_to_tick}`,
        ];
      }),
    );
    const pgDesc = await postgresDescription(database.url);
    const date = new Date().toISOString().slice(0, 10);
    const where = `${EVENTS} events per target after ${WARMUP} warm-up ones without notifications, one LAUNCH per SQS batch into a fresh State Manager container (defaults: 2 s request timeout, 2 s batch budget, 30 s cool-down); a batch "waited" when it returned more than 500 ms after its commit. ${machineInfo.cpu}, ${machineInfo.cores} cores, load ${load.toFixed(2)} at the start; ${pgDesc}; \`node bench/notify-delay.mjs --write\` on ${date}.`;
    const out = `${body}\n\n${where}\n`;
    process.stdout.write(`\n${out}`);
    if (values.write) {
      await writeFile(DOC, replaceBlock(await readFile(DOC, "utf8"), out));
      log("docs/spec-reference.md updated");
    }
  } finally {
    sqs.destroy();
    await receiver.stop();
    await fauxqs.stop();
    await database.drop();
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
