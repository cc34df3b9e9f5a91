import type { MachineSource, TickResult } from "@stackseam/state-manager";
import { type Connection, type DevInstance, resolveConnection } from "../connection.js";
import { sqsClientFor } from "../publish.js";
import type { LogRecord } from "../record-logger.js";
import { parseCommandArgs } from "../registry.js";
import { findSpecs } from "../spec-access.js";
import { cell } from "../table.js";

const help = `Usage: stackseam tick [--database-url URL] [--task-queue-url URL] [--specs DIR] [--json]

Runs the tick once, now: fires the timers that are due (task timeouts and retries, TTLs and their
warnings) and the schedules' due occurrences through the same path as an event, and re-sends task
messages left unsent. It is what the State Manager's \`index.tick\` does every minute and what
\`stackseam dev\` does every second; by hand it helps when no schedule runs the tick (a database
restored elsewhere, a test). Two ticks at once are safe: each timer fires once.

Options:
  --database-url URL    postgres://… (default: DATABASE_URL, else a running \`stackseam dev\`)
  --task-queue-url URL  where retried or newly dispatched tasks go (default: SQS_TASK_QUEUE_URL,
                        else the running dev's task queue when the database is the dev's)
  --specs DIR           the machine specs, for schedules (default: the running dev's specs when the
                        database is the dev's, else MACHINE_SPEC_DIR, else MACHINE_S3_BUCKET and
                        MACHINE_S3_KEY)
  --json                print what the tick did as JSON
  -h, --help            show this help

Prints one line per timer fired and per schedule occurrence, then a summary.
Endpoints come from AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL when set.
Exit codes: 0 done, 1 something due could not be fired (a later tick retries it) or the tick failed,
2 usage error.
`;

interface Values {
  "database-url"?: string;
  "task-queue-url"?: string;
  specs?: string;
  json?: boolean;
  help?: boolean;
}

/** What one tick did, as printed: the tick's own counts and the records it logged. */
interface TickReport extends TickResult {
  fired: { stackId: string; timer: string; dueAt: string; to: string | null; note: string | null }[];
  schedules: { machine: string; schedule: string; occurrence: string; next: string | null }[];
  /** ERROR records: what could not be done (a later tick retries it). */
  problems: string[];
  /** WARN records: what the tick worked around. */
  notes: string[];
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The summary line and one line per thing done. */
export function renderTick(r: TickReport): string {
  const lines: string[] = [];
  const width = Math.max(0, ...r.fired.map((f) => cell(f.stackId, 40).length));
  for (const f of r.fired) {
    lines.push(
      `${cell(f.stackId, 40).padEnd(width)}  TIMER ${f.timer}${f.to ? ` → ${f.to}` : ""}${f.note ? `  ${cell(f.note, 200)}` : ""}`,
    );
  }
  for (const s of r.schedules) {
    lines.push(
      `schedule ${s.machine}/${s.schedule}: occurrence ${s.occurrence} fired${s.next ? `; next ${s.next}` : ""}`,
    );
  }
  for (const n of r.notes) lines.push(`note: ${cell(n, 400)}`);
  for (const p of r.problems) lines.push(`problem: ${cell(p, 400)}`);
  const parts = [
    plural(r.timersFired, "timer fired", "timers fired"),
    ...(r.timersStale > 0 ? [`${r.timersStale} no longer set`] : []),
    ...(r.timersFailed > 0 ? [`${r.timersFailed} failed (a later tick retries)`] : []),
    `${plural(r.schedulesCompleted, "schedule occurrence")} (${plural(r.scheduleEvents, "event")})`,
    `${plural(r.outboxResent, "task message")} re-sent`,
  ];
  lines.push(
    `tick: ${parts.join(", ")} in ${r.ms} ms${r.outOfTime ? "; out of time, more is due: run it again" : ""}`,
  );
  return `${lines.join("\n")}\n`;
}

/** `stackseam tick`. */
export async function run(args: string[]): Promise<number> {
  let values: Values;
  try {
    const parsed = parseCommandArgs<Values>("tick", args);
    values = parsed.values;
    if (parsed.positionals.length > 0) throw new Error(`unexpected argument "${parsed.positionals[0]}"`);
  } catch (err) {
    process.stderr.write(`stackseam tick: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const usage = (msg: string) => {
    process.stderr.write(`stackseam tick: ${msg}\n`);
    return 2;
  };
  const conn = resolveConnection(values["database-url"] ? { databaseUrl: values["database-url"] } : {});
  if (!conn.databaseUrl)
    return usage("no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`");
  // The dev's queue and specs belong to the dev's database only.
  const dev = conn.dev && conn.dev.databaseUrl === conn.databaseUrl ? conn.dev : null;
  const taskQueueUrl = values["task-queue-url"] ?? process.env.SQS_TASK_QUEUE_URL ?? dev?.taskQueueUrl;
  if (!taskQueueUrl)
    return usage(
      "no task queue: pass --task-queue-url or set SQS_TASK_QUEUE_URL (a timer may dispatch a task)",
    );
  const place = findSpecs({ specsFlag: values.specs, dev });
  if (!place)
    return usage(
      "no machine specs: pass --specs DIR, or set MACHINE_SPEC_DIR or MACHINE_S3_BUCKET (the tick reads schedules from them)",
    );

  const sm = await import("@stackseam/state-manager");
  const { recordLogger } = await import("../record-logger.js");
  const report: TickReport = {
    timersFired: 0,
    timersStale: 0,
    timersFailed: 0,
    scheduleEvents: 0,
    schedulesCompleted: 0,
    outboxResent: 0,
    outOfTime: false,
    ms: 0,
    fired: [],
    schedules: [],
    problems: [],
    notes: [],
  };
  const onRecord = (record: LogRecord) => {
    const message = str(record.message);
    if (message === "timer fired") {
      report.fired.push({
        stackId: str(record.stackId) ?? "?",
        timer: str(record.timer) ?? "?",
        dueAt: str(record.dueAt) ?? "",
        to: str(record.to),
        note: str(record.note),
      });
    } else if (message === "schedule fired") {
      const next = record.next;
      report.schedules.push({
        machine: str(record.machine) ?? "?",
        schedule: str(record.schedule) ?? "?",
        occurrence: str(record.occurrence) ?? "",
        next: next instanceof Date ? next.toISOString() : str(next),
      });
    } else if (record.level === "ERROR" || record.level === "WARN") {
      const err = record.error as { message?: unknown } | undefined;
      const where = [str(record.stackId), str(record.timer) ?? str(record.schedule)]
        .filter(Boolean)
        .join(" ");
      const text = `${message ?? "?"}${where ? ` (${where})` : ""}${err ? `: ${String(err.message)}` : ""}`;
      (record.level === "ERROR" ? report.problems : report.notes).push(text);
    }
  };
  const sqs = sqsClientFor(queueConnection(taskQueueUrl, dev));
  const db = sm.openDatabase(conn.databaseUrl, { max: 2, applicationName: "stackseam-tick" });
  let close = () => {};
  try {
    await sm.checkSchema(db);
    let machines: MachineSource;
    if (place.kind === "dir") {
      machines = sm.localMachineSource({ dir: place.dir, keepLastGood: false });
    } else {
      const { S3Client } = await import("@aws-sdk/client-s3");
      const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
      const s3 = new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {});
      machines = sm.s3MachineSource({ s3, bucket: place.bucket, prefix: place.prefix });
      close = () => s3.destroy();
    }
    await machines.refresh();
    const tick = sm.createTick({
      db,
      sqs,
      taskQueueUrl,
      machines,
      logger: recordLogger("stackseam-tick", onRecord),
      deps: sm.defaultDeps,
    });
    Object.assign(report, await tick.run());
  } catch (err) {
    process.stderr.write(`stackseam tick: ${(err as Error).message}\n`);
    return 1;
  } finally {
    close();
    sqs.destroy();
    await db.destroy();
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderTick(report));
  return report.timersFailed > 0 || report.problems.length > 0 ? 1 : 0;
}

/** Where the task queue is reached: the dev's endpoint (and test keys) for its own queue, else the environment's. */
function queueConnection(queueUrl: string, dev: DevInstance | null): Connection {
  const env = process.env;
  if (dev && queueUrl === dev.taskQueueUrl) {
    const conn: Connection = { source: "dev", endpoint: dev.endpoint, region: dev.region };
    if (!(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY))
      conn.credentials = { accessKeyId: "stackseam-dev", secretAccessKey: "stackseam-dev" };
    return conn;
  }
  const conn: Connection = { source: "flags/env" };
  const endpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  if (endpoint) conn.endpoint = endpoint;
  if (env.AWS_REGION) conn.region = env.AWS_REGION;
  return conn;
}
