// §3 End-to-end latency in dev mode: the real `stackseam dev` runtime (started in-process with
// startDev: fauxqs with its SQLite store, both handlers behind their SQS pollers, the example
// functions), one stack at a time: send LAUNCH → stack in RUN. Every SQS call is timestamped (by
// wrapping SQSClient.send) to split the time into queue waits, engine and task.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { CREDENTIALS, createDatabase, MACHINE, REGION, ROOT } from "./lib/infra.mjs";
import { median, quantile } from "./lib/stats.mjs";

/** Timestamps, per stack, of each step the two messages of a LAUNCH → RUN round trip go through. */
function instrumentSqs(marks) {
  const original = SQSClient.prototype.send;
  SQSClient.prototype.send = async function send(command, ...rest) {
    const out = await original.call(this, command, ...rest);
    const now = performance.now();
    const name = command.constructor.name;
    const note = (body, step) => {
      try {
        const m = JSON.parse(body);
        if (typeof m.stackId !== "string") return;
        const key = `${m.stackId}:${step(m)}`;
        if (!marks.has(key)) marks.set(key, now);
      } catch {
        // not ours
      }
    };
    if (name === "ReceiveMessageCommand") {
      for (const msg of out?.Messages ?? [])
        note(msg.Body, (m) => (m.executor ? "taskReceived" : `${m.event}:received`));
    } else if (name === "SendMessageBatchCommand") {
      for (const e of command.input.Entries ?? []) note(e.MessageBody, () => "taskSent");
    } else if (name === "SendMessageCommand") {
      note(command.input.MessageBody, (m) => `${m.event}:sent`);
    }
    return out;
  };
  return () => {
    SQSClient.prototype.send = original;
  };
}

export async function runDevLatency({ adminUrl, aws, quick, log }) {
  const count = quick ? 20 : 100;
  const warmup = 5;
  const db = await createDatabase(adminUrl);
  const dataDir = await mkdtemp(join(tmpdir(), "stackseam-bench-dev-"));
  const marks = new Map();
  const waiting = new Map();
  const saved = Object.fromEntries(
    [
      "DATABASE_URL",
      "STACKSEAM_DATA_DIR",
      "AWS_ENDPOINT_URL",
      "AWS_REGION",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
    ].map((k) => [k, process.env[k]]),
  );
  const restore = instrumentSqs(marks);
  let taskMs = [];
  // The live log's input: every structured log record of both Lambdas, as it is written.
  const live = {
    info() {},
    warn() {},
    // Task reports as they reach the event queue (the live log prints their outputs): not needed.
    reports() {},
    error(text) {
      log(`dev: ${text}`);
    },
    lambdaLog(record) {
      if (record.message === "task completed" && typeof record.durationMs === "number")
        taskMs.push(record.durationMs);
      if (record.message === "event applied" && record.to === "RUN" && record.event === "TASK_COMPLETED") {
        marks.set(`${record.stackId}:RUN`, performance.now());
        waiting.get(record.stackId)?.();
      }
      if (record.message === "event refused" || record.message === "task failed")
        log(
          `dev: unexpected ${record.message} for ${record.stackId}: ${record.reason ?? record.description ?? ""}`,
        );
    },
  };
  let rt = null;
  try {
    process.env.DATABASE_URL = db.url;
    const { startDev } = await import(join(ROOT, "packages/cli/dist/dev/runtime.js"));
    const options = {
      specsDir: join(ROOT, "examples/specs"),
      functionsDir: join(ROOT, "examples/functions"),
      dataDir,
      port: 0,
    };
    let started = performance.now();
    let fallback = null;
    try {
      rt = await startDev(options, live);
    } catch (err) {
      // Measure what can be measured, and say so: dev's own SQS/S3 endpoint would not start, so
      // point it at the bench's fauxqs the way AWS_ENDPOINT_URL lets any user do.
      fallback = String(err?.message ?? err).split("\n")[0];
      log(
        `dev latency: embedded SQS/S3 failed (${fallback}); retrying with AWS_ENDPOINT_URL=${aws.endpoint}`,
      );
      Object.assign(process.env, {
        AWS_ENDPOINT_URL: aws.endpoint,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      });
      started = performance.now();
      rt = await startDev(options, live);
    }
    const startupMs = performance.now() - started;
    const sqs = new SQSClient({
      endpoint: rt.instance.endpoint,
      region: rt.instance.region,
      credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
    });
    log(
      `dev latency: dev mode up in ${startupMs.toFixed(0)} ms; ${warmup} warm-up + ${count} stacks, one at a time`,
    );
    const rows = [];
    for (let i = 0; i < warmup + count; i++) {
      const stackId = `dev-${i}`;
      const inRun = new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`dev latency: ${stackId} not in RUN after 15 s`)),
          15_000,
        );
        waiting.set(stackId, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      const t0 = performance.now();
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: rt.instance.eventQueueUrl,
          MessageBody: JSON.stringify({
            stackId,
            event: "LAUNCH",
            machine: MACHINE,
            metadata: { delayMs: 0 },
          }),
        }),
      );
      await inRun;
      waiting.delete(stackId);
      if (i < warmup) continue;
      const m = (step) => {
        const t = marks.get(`${stackId}:${step}`);
        if (t === undefined) throw new Error(`dev latency: no ${step} mark for ${stackId}`);
        return t;
      };
      const [a, b, c, d, e, f] = [
        m("LAUNCH:received"),
        m("taskSent"),
        m("taskReceived"),
        m("TASK_COMPLETED:sent"),
        m("TASK_COMPLETED:received"),
        m("RUN"),
      ];
      rows.push({
        total: f - t0,
        eventQueue: a - t0 + (e - d),
        engine: b - a + (f - e),
        taskQueue: c - b,
        task: d - c,
      });
    }
    taskMs = taskMs.slice(warmup);
    sqs.destroy();
    const pick = (k) => rows.map((r) => r[k]);
    const stat = (k) => ({ p50: median(pick(k)), p95: quantile(pick(k), 0.95) });
    return {
      count,
      startupMs,
      fallback,
      total: stat("total"),
      eventQueue: stat("eventQueue"),
      engine: stat("engine"),
      taskQueue: stat("taskQueue"),
      task: stat("task"),
      functionMs: { p50: median(taskMs), p95: quantile(taskMs, 0.95) },
    };
  } finally {
    restore();
    if (rt) await rt.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(dataDir, { recursive: true, force: true });
    await db.drop();
  }
}
