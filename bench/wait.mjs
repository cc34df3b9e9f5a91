#!/usr/bin/env node
// `stackseam wait` in dev: how soon it returns after the last task's report, what waiting costs the
// database, and what the examples/ci pipeline prints. Not a test: nothing here asserts a time.
//
//   node bench/wait.mjs [--runs 30] [--window 60] [--only figures,pipeline] [--write]
//
// Needs the workspace built (`npm run build`). Starts the real dev runtime in this process (its own
// embedded PostgreSQL unless DATABASE_URL is set), and runs the real CLI as child processes:
//   1. latency: `stackseam wait <id> --state RUN` is started and waiting (it printed "waiting:"),
//      LAUNCH is sent; measured from the moment the Task Satisfier's TASK_COMPLETED report is on the
//      event queue (SQSClient.send wrapped) to the wait's outcome line on its stdout, and to its exit;
//   2. load: 50 waits (the CLI's waitForStack, one connection each) sleeping for --window seconds
//      (a minute: each re-reads once a minute, in case notifications are lost on the way):
//      transactions on the database (pg_stat_database) and statements of the wait sessions
//      (pg_stat_activity); then the same with the notify trigger dropped (the 1 s polling fallback);
//   3. the pipeline: examples/ci/preview-env.sh up (ready, and failing) and down, output captured.
// --write puts the figures and transcripts into docs/ci.md and docs/cli.md (between markers).
import { execFile, spawn } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import {
  createDatabase,
  machineDescription,
  postgresDescription,
  ROOT,
  startPostgres,
} from "./lib/infra.mjs";
import { fmt, median, quantile } from "./lib/stats.mjs";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    window: { type: "string", default: "60" },
    write: { type: "boolean", default: false },
    // Sections: "figures" (latency and load) and "pipeline" (the transcripts).
    only: { type: "string", default: "figures,pipeline" },
  },
});
const ONLY = new Set(values.only.split(",").map((x) => x.trim()));
const RUNS = Number(values.runs);
const WINDOW_S = Number(values.window);
const WARMUP = 3;
const WAITS = 50;
const MAIN = join(ROOT, "packages/cli/dist/main.js");
const began = performance.now();
const log = (line) =>
  process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The Task Satisfier's reports, timestamped when they are on the event queue.
const reportSent = new Map();
const original = SQSClient.prototype.send;
SQSClient.prototype.send = async function send(command, ...rest) {
  const out = await original.call(this, command, ...rest);
  if (command.constructor.name === "SendMessageCommand") {
    try {
      const m = JSON.parse(command.input.MessageBody);
      if (m.event === "TASK_COMPLETED" && !reportSent.has(m.stackId))
        reportSent.set(m.stackId, performance.now());
    } catch {
      // not a report
    }
  }
  return out;
};
const applied = new Map();
const live = {
  info() {},
  warn() {},
  error(text) {
    log(`dev: ${text}`);
  },
  reports() {},
  lambdaLog(record) {
    if (
      record.message === "event applied" &&
      record.event === "TASK_COMPLETED" &&
      !applied.has(record.stackId)
    )
      applied.set(record.stackId, performance.now());
  },
};

function cliEnv(dataDir) {
  const env = { ...process.env, NO_COLOR: "1", STACKSEAM_DATA_DIR: dataDir };
  for (const k of Object.keys(env))
    if (k === "DATABASE_URL" || k.startsWith("SQS_") || k.startsWith("AWS_")) delete env[k];
  return env;
}

/** One latency run: the wait is waiting before LAUNCH is sent. */
async function latencyRun(dataDir, sqs, queueUrl, stackId) {
  const child = spawn(process.execPath, [MAIN, "wait", stackId, "--state", "RUN"], {
    env: cliEnv(dataDir),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  let printed = null;
  const waiting = new Promise((resolve, reject) => {
    child.stderr.on("data", (c) => {
      err += c.toString();
      if (err.includes("waiting:")) resolve();
    });
    child.once("exit", () => reject(new Error(`wait exited before waiting: ${err}`)));
  });
  child.stdout.on("data", (c) => {
    if (printed === null && c.toString().includes("settled in RUN")) printed = performance.now();
  });
  const exited = new Promise((resolve) =>
    child.once("exit", (code) => resolve({ code, at: performance.now() })),
  );
  await waiting;
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify({ stackId, event: "LAUNCH", machine: "qa-env", metadata: { delayMs: 0 } }),
    }),
  );
  const end = await exited;
  if (end.code !== 0) throw new Error(`wait ${stackId} exited ${end.code}: ${err}`);
  const report = reportSent.get(stackId);
  return {
    printed: printed - report,
    exited: end.at - report,
    engine: (applied.get(stackId) ?? Number.NaN) - report,
  };
}

async function xacts(admin, name) {
  const r = await admin.query(
    "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1",
    [name],
  );
  return Number(r.rows[0].n);
}

/** Statement starts of the wait sessions, to tell whether any ran a statement. */
async function waitSessions(admin) {
  const r = await admin.query(
    "SELECT pid, query_start FROM pg_stat_activity WHERE application_name = 'stackseam-wait'",
  );
  return new Map(r.rows.map((x) => [x.pid, x.query_start.getTime()]));
}

/** 50 waits sleeping for the window: database transactions, and statements by their sessions. */
async function loadRun(admin, dbName, databaseUrl, ids, waitForStack) {
  const abort = new AbortController();
  let started = 0;
  let ready;
  const allWaiting = new Promise((r) => {
    ready = r;
  });
  const results = ids.map((stackId) =>
    waitForStack({
      databaseUrl,
      stackId,
      state: "FROZEN",
      timeoutMs: 600_000,
      signal: abort.signal,
      onNote: () => {},
      onProgress: (line) => {
        if (line.text.startsWith("waiting:") && ++started === ids.length) ready();
      },
    }),
  );
  await allWaiting;
  // Statistics reach pg_stat_database when a backend goes idle (at most ~10 s later): let the
  // waits' start-up statements land before the window opens.
  await sleep(12_000);
  const sessionsBefore = await waitSessions(admin);
  const before = await xacts(admin, dbName);
  await sleep(WINDOW_S * 1000);
  const sessionsAfter = await waitSessions(admin);
  await sleep(12_000);
  const after = await xacts(admin, dbName);
  let statements = 0;
  for (const [pid, at] of sessionsAfter) if (sessionsBefore.get(pid) !== at) statements++;
  return {
    abort,
    results,
    xacts: after - before,
    sessionsWithAStatement: statements,
    sessions: sessionsAfter.size,
  };
}

function run(file, args, env) {
  return new Promise((resolve) => {
    execFile(file, args, { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr }),
    );
  });
}

/** The pipeline as a terminal shows it: stdout and stderr interleaved, as one stream. */
async function pipeline(dataDir, args, extra = {}) {
  const env = {
    ...cliEnv(dataDir),
    STACKSEAM: `${process.execPath} ${MAIN}`,
    PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}`,
    ...extra,
  };
  const r = await run(
    "bash",
    ["-c", `"$0" "$@" 2>&1; echo "exit $?"`, join(ROOT, "examples/ci/preview-env.sh"), ...args],
    env,
  );
  const shown = `$ examples/ci/preview-env.sh ${args.join(" ")}`;
  return `${shown}\n${r.stdout}`;
}

function replaceBlock(text, name, content) {
  const start = `<!-- bench/wait.mjs ${name} -->`;
  const end = `<!-- /bench/wait.mjs ${name} -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`no ${start} … ${end} block to write into`);
  return `${text.slice(0, i + start.length)}\n${content.trimEnd()}\n${text.slice(j)}`;
}

async function main() {
  const machine = await machineDescription();
  const load = loadavg()[0];
  const postgres = await startPostgres(log);
  const db = await createDatabase(postgres.adminUrl);
  const dataDir = await mkdtemp(join(tmpdir(), "stackseam-bench-wait-"));
  const specs = join(dataDir, "specs");
  const functions = join(dataDir, "functions");
  await cp(join(ROOT, "examples/specs"), specs, { recursive: true });
  await cp(join(ROOT, "examples/functions"), functions, { recursive: true });
  const qaEnv = await readFile(join(specs, "qa-env.yml"), "utf8");
  await writeFile(
    join(specs, "broken-env.yml"),
    qaEnv.replace("name: provision-env", "name: provision-broken"),
  );
  await writeFile(
    join(functions, "provision-broken.mjs"),
    `export async function handler({ stackId }) {
  const err = new Error([
    "terraform apply failed (exit code 1)",
    "╷", "│ Warning: Argument is deprecated", "│", "│ Use the aws_s3_bucket_acl resource instead", "╵",
    "╷", \`│ Error: creating S3 Bucket (\${stackId}-assets): BucketAlreadyExists\`, "╵",
  ].join("\\n"));
  err.name = "TerraformFailure";
  throw err;
}
`,
  );
  const savedDb = process.env.DATABASE_URL;
  process.env.DATABASE_URL = db.url;
  const { startDev } = await import(join(ROOT, "packages/cli/dist/dev/runtime.js"));
  const { waitForStack } = await import(join(ROOT, "packages/cli/dist/watch/wait.js"));
  const rt = await startDev({ specsDir: specs, functionsDir: functions, dataDir, port: 0 }, live);
  const info = rt.instance;
  const sqs = new SQSClient({
    endpoint: info.endpoint,
    region: info.region,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const out = {
    machine,
    load,
    postgres: `${await postgresDescription(postgres.adminUrl)}, ${postgres.kind}`,
  };
  async function figures() {
    log(`latency: ${WARMUP} warm-up + ${RUNS} runs, one at a time`);
    const rows = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const r = await latencyRun(dataDir, sqs, info.eventQueueUrl, `lat-${i}`);
      if (i >= WARMUP) rows.push(r);
    }
    const stat = (k) => ({
      p50: median(rows.map((r) => r[k])),
      p95: quantile(
        rows.map((r) => r[k]),
        0.95,
      ),
    });
    out.latency = { runs: RUNS, printed: stat("printed"), exited: stat("exited"), engine: stat("engine") };
    log(`latency: ${JSON.stringify(out.latency)}`);

    const ids = Array.from({ length: WAITS }, (_, i) => `many-${i}`);
    const send = async (messages) => {
      for (let i = 0; i < messages.length; i += 10)
        await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: info.eventQueueUrl,
            Entries: messages
              .slice(i, i + 10)
              .map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) })),
          }),
        );
    };
    const until = async (sql, params, ok) => {
      for (;;) {
        const r = await admin.query(sql, params);
        if (ok(r.rows[0])) return;
        await sleep(200);
      }
    };
    await send(
      ids.map((stackId) => ({ stackId, event: "LAUNCH", machine: "qa-env", metadata: { delayMs: 0 } })),
    );
    await until(
      "SELECT count(*)::int AS n FROM stacks WHERE id = ANY($1) AND state = 'RUN'",
      [ids],
      (r) => r.n === WAITS,
    );

    log(`load: no waits, ${WINDOW_S} s`);
    await sleep(12_000);
    const idle0 = await xacts(admin, db.name);
    await sleep(WINDOW_S * 1000);
    await sleep(12_000);
    out.idle = (await xacts(admin, db.name)) - idle0;

    log(`load: ${WAITS} waits (LISTEN), ${WINDOW_S} s`);
    const listen = await loadRun(admin, db.name, db.url, ids, waitForStack);
    await send(ids.map((stackId) => ({ stackId, event: "FREEZE" })));
    const woken = await Promise.all(listen.results);
    const wakeStatements = woken.map((r) => r.queries);
    out.listen = {
      xacts: listen.xacts,
      sessions: listen.sessions,
      sessionsWithAStatement: listen.sessionsWithAStatement,
      results: [...new Set(woken.map((r) => `${r.result} ${r.stack?.state}`))],
      statementsPerWait: median(wakeStatements),
    };
    log(`load: listen ${JSON.stringify(out.listen)}`);
    await send(ids.map((stackId) => ({ stackId, event: "THAW" })));
    await until(
      "SELECT count(*)::int AS n FROM stacks WHERE id = ANY($1) AND state = 'RUN'",
      [ids],
      (r) => r.n === WAITS,
    );

    log(`load: ${WAITS} waits polling every second (trigger dropped), ${WINDOW_S} s`);
    await admin.query("DROP TRIGGER history_notify ON history");
    const poll = await loadRun(admin, db.name, db.url, ids, waitForStack);
    poll.abort.abort();
    await Promise.all(poll.results);
    await admin.query(
      "CREATE TRIGGER history_notify AFTER INSERT ON history FOR EACH ROW EXECUTE FUNCTION stackseam_history_notify()",
    );
    out.poll = {
      xacts: poll.xacts,
      sessions: poll.sessions,
      sessionsWithAStatement: poll.sessionsWithAStatement,
    };
    log(`load: poll ${JSON.stringify(out.poll)}`);
  }

  async function transcripts() {
    log("pipeline: up (ready), up (failing), down");
    const gh = join(dataDir, "github-output");
    await writeFile(gh, "");
    out.transcripts = {
      success: await pipeline(dataDir, ["up", "7", "e724e90"], { GITHUB_OUTPUT: gh }),
      failure: await pipeline(dataDir, ["up", "8", "0badc0d"], { PREVIEW_MACHINE: "broken-env" }),
      down: await pipeline(dataDir, ["down", "7"]),
    };
    process.stdout.write(`${out.transcripts.success}\n${out.transcripts.failure}\n${out.transcripts.down}\n`);
  }

  try {
    if (ONLY.has("figures")) await figures();
    if (ONLY.has("pipeline")) await transcripts();
  } finally {
    await admin.end();
    sqs.destroy();
    await rt.stop();
    SQSClient.prototype.send = original;
    if (savedDb === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = savedDb;
    await db.drop();
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  if (out.latency) {
    const ms = (v) => `${fmt(v, v < 10 ? 1 : 0)} ms`;
    const date = new Date().toISOString().slice(0, 10);
    const where = `${out.machine.cpu}, ${out.machine.cores} cores, load ${out.load.toFixed(2)} at the start; ${out.postgres}; \`node bench/wait.mjs --write\` on ${date}`;
    const latency = [
      `From the last task's report on the event queue to \`stackseam wait\` printing its outcome, in`,
      `\`dev\` (${out.latency.runs} runs, one at a time, the wait already waiting): **p50 ${ms(out.latency.printed.p50)}, p95 ${ms(out.latency.printed.p95)}**`,
      `(to its exit: p50 ${ms(out.latency.exited.p50)}, p95 ${ms(out.latency.exited.p95)}; of which the State Manager receiving and applying`,
      `the report: p50 ${ms(out.latency.engine.p50)}, p95 ${ms(out.latency.engine.p95)}). ${where}.`,
    ].join("\n");
    const n = (count, word) => `${fmt(count, 0)} ${word}${count === 1 ? "" : "s"}`;
    const cost = [
      `${WAITS} waits sleeping for ${WINDOW_S} s: **${n(out.listen.xacts, "transaction")}** on the database (pg_stat_database),`,
      `against ${fmt(out.idle, 0)} in the same ${WINDOW_S} s with no wait at all: each wait re-reads once a minute (two`,
      "statements, in case a notification was lost on the way) and runs nothing else until its stack",
      "changes. Over its whole life (start-up, re-reads, and the wake-ups as its stack moved to FROZEN)",
      `a wait sent ${out.listen.statementsPerWait} statements. The same ${WAITS} waits polling once a second (the fallback`,
      `without migration 003): ${n(out.poll.xacts, "transaction")} in ${WINDOW_S} s. Each wait holds one connection.`,
    ].join("\n");
    process.stdout.write(`\n${latency}\n\n${cost}\n`);
    if (values.write) {
      for (const doc of ["docs/ci.md", "docs/cli.md"]) {
        const text = await readFile(join(ROOT, doc), "utf8");
        await writeFile(join(ROOT, doc), replaceBlock(text, "figures", `${latency}\n\n${cost}`));
      }
      log("wrote the figures into docs/ci.md and docs/cli.md");
    }
  }
  if (out.transcripts && values.write) {
    const block = (t) => `\`\`\`\n${t.trimEnd()}\n\`\`\``;
    let ci = await readFile(join(ROOT, "docs/ci.md"), "utf8");
    // A transcript goes in only when the run ended as its heading says it does.
    const expected = { success: "exit 0", failure: "exit 1", down: "exit 0" };
    for (const [name, end] of Object.entries(expected)) {
      const text = out.transcripts[name];
      if (text.trimEnd().endsWith(end)) ci = replaceBlock(ci, name, block(text));
      else log(`transcript ${name} did not end with "${end}": docs/ci.md keeps the previous one`);
    }
    await writeFile(join(ROOT, "docs/ci.md"), ci);
    log("wrote the transcripts into docs/ci.md");
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
