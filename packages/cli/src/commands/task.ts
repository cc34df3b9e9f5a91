import { readFile } from "node:fs/promises";
import { text as streamText } from "node:stream/consumers";
import { Logger, type LogItem } from "@aws-lambda-powertools/logger";
import { failureSummary, parseTaskMessage, type TaskMessage, taskMessage } from "@stackseam/core";
import {
  awsClients,
  awsLambdaInvoker,
  createTaskSatisfier,
  DEFAULT_TERRAFORM_BIN,
  type LambdaInvoker,
  localLambdaInvoker,
} from "@stackseam/task-satisfier";
import { type Connection, resolveConnection } from "../connection.js";
import { errorText } from "../error-text.js";
import { parseCommandArgs } from "../registry.js";
import { findSpecs, openSpecs } from "../spec-access.js";

const help = `Usage: stackseam task run <task-message.json | -> [options]
       stackseam task run --stack <stackId> --task <name> [options]

Runs one task message on this machine through the Task Satisfier's own code (same executors,
same checks, same Terraform command line) and prints the report JSON on stdout. Progress and
Terraform's output go to stderr. With --stack and --task, the message is the one the engine
dispatched for that task of the stack's current state (same token and attempt, current metadata).

Options:
  --stack ID           build the message from this stack (read from the database)
  --task NAME          the task of the stack's current state to run (with --stack)
  --specs DIR          with --stack: the specs folder (default: the running dev's specs, else
                       MACHINE_SPEC_DIR, else MACHINE_S3_BUCKET/MACHINE_S3_KEY)
  --database-url URL   with --stack: postgres://… (default: DATABASE_URL, else a running dev)
  --dry-run            print the exact commands (terraform) or invocation (lambda) as JSON; run and send nothing
  --functions DIR      run lambda tasks from DIR/<name>.mjs|.js instead of invoking AWS Lambda
                       (default: the running dev's functions folder; without a dev, AWS Lambda)
  --terraform-bin BIN  terraform or tofu binary (default: TERRAFORM_BIN, else "terraform")
  --queue-url URL      also send the report to this event queue
                       (default: SQS_EVENT_QUEUE_URL, else a running \`stackseam dev\`; none: only print)
  --no-send            only print the report, even when a queue is configured
  --timeout SECONDS    stop Terraform after this long (default 3600)
  -h, --help           show this help

Exit codes: 0 TASK_COMPLETED (or a dry run), 1 TASK_ERROR, the report could not be sent, or the
stack/task was not found, 2 usage error or an unreadable/invalid task message.
`;

// Kept back after --timeout so Terraform gets its full time and still has a SIGTERM grace period.
const CLI_MARGIN_MS = 10_000;
const DEV_CREDENTIALS = { accessKeyId: "stackseam-dev", secretAccessKey: "stackseam-dev" } as const;

type LoggerOptions = ConstructorParameters<typeof Logger>[0];

/**
 * A Powertools logger for a terminal: stdout is kept for the report, so everything goes to
 * stderr; Terraform's output lines are printed as they are, other records as one short line.
 */
class TerminalLogger extends Logger {
  protected override printLog(_level: number, log: LogItem): void {
    const { message, level, stream, ...rest } = log.getAttributes() as Record<string, unknown>;
    if (stream === "stdout" || stream === "stderr") {
      process.stderr.write(`${String(message)}\n`);
      return;
    }
    const keys = ["step", "functionName", "code", "durationMs", "files", "source", "description"]
      .filter((k) => rest[k] !== undefined)
      .map((k) => {
        const v = rest[k];
        // A failure reads as its first Error: line here; the report on stdout holds all of it.
        const text =
          typeof v === "string" ? (k === "description" ? failureSummary(v) : v) : JSON.stringify(v);
        return `${k}=${text}`;
      });
    process.stderr.write(
      `stackseam: ${String(level).toLowerCase()}: ${String(message)}${keys.length ? ` (${keys.join(", ")})` : ""}\n`,
    );
  }

  protected override createLogger(options?: LoggerOptions): Logger {
    return new TerminalLogger(options);
  }
}

async function readMessage(
  path: string,
): Promise<{ ok: true; message: TaskMessage } | { ok: false; reason: string }> {
  let text: string;
  try {
    text = path === "-" ? await streamText(process.stdin) : await readFile(path, "utf8");
  } catch (err) {
    return {
      ok: false,
      reason: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    };
  }
  const parsed = parseTaskMessage(text);
  return parsed.ok ? parsed : { ok: false, reason: `${path} is not a valid task message: ${parsed.reason}` };
}

/** SDK clients as the Lambda would build them, falling back to a running `stackseam dev` for the queue. */
function clients(conn: Connection) {
  const env = process.env;
  const dev = conn.source === "dev";
  const region = conn.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    eventQueueUrl: conn.eventQueueUrl,
    ...awsClients(env, {
      ...(region ? { region } : {}),
      // fauxqs accepts any key; without one the SDK would refuse to sign.
      ...(dev && !env.AWS_ACCESS_KEY_ID ? { credentials: DEV_CREDENTIALS } : {}),
      ...(conn.endpoint ? { fallbackEndpoint: conn.endpoint } : {}),
    }),
  };
}

interface RunValues {
  "dry-run"?: boolean;
  functions?: string;
  "terraform-bin"?: string;
  "queue-url"?: string;
  "no-send"?: boolean;
  timeout?: string;
  stack?: string;
  task?: string;
  specs?: string;
  "database-url"?: string;
  help?: boolean;
}

type Built = { ok: true; message: TaskMessage } | { ok: false; reason: string; code: 1 | 2 };

/** The task message the engine dispatched for `task` in the stack's current state. */
async function messageFromStack(
  stackId: string,
  taskName: string,
  conn: Connection,
  specsFlag: string | undefined,
): Promise<Built> {
  if (!conn.databaseUrl) {
    return {
      ok: false,
      code: 2,
      reason: "--stack needs the database: pass --database-url, set DATABASE_URL, or start `stackseam dev`",
    };
  }
  const sm = await import("@stackseam/state-manager");
  const db = sm.openDatabase(conn.databaseUrl, {
    max: 1,
    applicationName: "stackseam-cli",
    connectionTimeoutMillis: 10_000,
  });
  let stack: Awaited<ReturnType<typeof sm.getStack>>;
  try {
    stack = await sm.getStack(db, stackId);
  } finally {
    await db.destroy();
  }
  if (!stack)
    return { ok: false, code: 1, reason: `stack ${stackId} does not exist (never created, or removed)` };
  const dispatch = stack.tasks.find((t) => t.name === taskName);
  if (!dispatch) {
    const tasks = stack.tasks.map((t) => `${t.name} (${t.status})`).join(", ");
    return {
      ok: false,
      code: 1,
      reason: `stack ${stackId} is in state ${stack.state}, whose tasks are: ${tasks || "none"}; ${taskName} is not one of them`,
    };
  }
  const place = findSpecs({ specsFlag, dev: conn.dev });
  if (!place) {
    return {
      ok: false,
      code: 2,
      reason:
        "--stack needs the specs: pass --specs, start `stackseam dev`, or set MACHINE_SPEC_DIR or MACHINE_S3_BUCKET",
    };
  }
  const specs = await openSpecs(place);
  try {
    const answer = await specs.lookup(stack.machine);
    if (answer.kind !== "found") {
      const why = answer.kind === "unknown" ? `no spec for machine ${stack.machine}` : answer.reason;
      return { ok: false, code: 1, reason: `${why} (in ${specs.where})` };
    }
    const message = taskMessage(
      answer.machine,
      stack,
      { task: dispatch.name, token: dispatch.token, attempt: dispatch.attempt },
      new Date(),
    );
    return { ok: true, message };
  } catch (err) {
    return { ok: false, code: 1, reason: errorText(err) };
  } finally {
    specs.close();
  }
}

async function taskRun(args: string[]): Promise<number> {
  let values: RunValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs<RunValues>("task", args));
  } catch (err) {
    process.stderr.write(`stackseam task run: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const usage = (msg: string) => {
    process.stderr.write(`stackseam task run: ${msg}\n\n${help}`);
    return 2;
  };
  const fromStack = values.stack !== undefined || values.task !== undefined;
  const [file, ...extra] = positionals;
  if (fromStack) {
    if (values.stack === undefined || values.task === undefined)
      return usage("--stack and --task go together");
    if (file !== undefined) return usage("give either a task message file or --stack and --task, not both");
  } else if (!file || extra.length > 0) {
    return usage("give exactly one task message file (or - for stdin), or --stack <id> --task <name>");
  }
  const timeoutSeconds = values.timeout === undefined ? 3600 : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    process.stderr.write(`stackseam task run: --timeout must be a positive number of seconds\n`);
    return 2;
  }
  const conn = resolveConnection({
    ...(values["queue-url"] ? { queueUrl: values["queue-url"] } : {}),
    ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
  });

  let message: TaskMessage;
  if (fromStack) {
    let built: Built;
    try {
      built = await messageFromStack(values.stack!, values.task!, conn, values.specs);
    } catch (err) {
      process.stderr.write(`stackseam task run: ${errorText(err)}\n`);
      return 1;
    }
    if (!built.ok) {
      process.stderr.write(`stackseam task run: ${built.reason}\n`);
      return built.code;
    }
    message = built.message;
    process.stderr.write(
      `stackseam: task ${message.task} of stack ${message.stackId} (state ${message.state}, attempt ${message.attempt}, token ${message.token})\n`,
    );
  } else {
    const read = await readMessage(file!);
    if (!read.ok) {
      process.stderr.write(`stackseam task run: ${read.reason}\n`);
      return 2;
    }
    message = read.message;
  }

  const aws = clients(conn);
  // With a dev running, its functions are what its lambda tasks run: the same here by default.
  const functionsDir = values.functions ?? conn.dev?.functionsDir;
  if (values.functions === undefined && functionsDir !== undefined && message.executor === "lambda") {
    process.stderr.write(
      `stackseam: lambda tasks run from ${functionsDir} (the running dev's; --functions to choose)\n`,
    );
  }
  const invoker: LambdaInvoker = functionsDir
    ? localLambdaInvoker(functionsDir)
    : awsLambdaInvoker(aws.lambda);
  const sendTo = values["no-send"] || values["dry-run"] ? undefined : aws.eventQueueUrl;
  const satisfier = createTaskSatisfier({
    s3: aws.s3,
    invoker,
    terraformBin: values["terraform-bin"] ?? process.env.TERRAFORM_BIN ?? DEFAULT_TERRAFORM_BIN,
    deadlineMarginMs: CLI_MARGIN_MS,
    logger: new TerminalLogger({
      serviceName: "stackseam-task-satisfier",
      logLevel: process.env.LOG_LEVEL ?? "INFO",
    } as LoggerOptions),
    ...(sendTo ? { sqs: aws.sqs, eventQueueUrl: sendTo } : {}),
  });

  if (values["dry-run"]) {
    const plan = satisfier.plan(message);
    process.stdout.write(`${JSON.stringify({ dryRun: true, ...plan }, null, 2)}\n`);
    return plan.ok ? 0 : 1;
  }

  const stopAt = performance.now() + timeoutSeconds * 1000 + CLI_MARGIN_MS;
  let report: Awaited<ReturnType<typeof satisfier.runTask>>;
  try {
    report = await satisfier.runTask(message, { remainingMs: () => stopAt - performance.now() });
  } catch (err) {
    // In Lambda this would be retried; here the person needs to know why it could not run at all.
    process.stderr.write(`stackseam task run: the task could not run: ${errorText(err)}\n`);
    if (!functionsDir && message.executor === "lambda") {
      process.stderr.write("  (to run the function from a local folder instead: --functions DIR)\n");
    }
    return 1;
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (report.event === "TASK_ERROR") {
    process.stderr.write(
      `stackseam: task ${message.task} failed: ${failureSummary(report.description ?? "")}\n`,
    );
  }
  if (sendTo) {
    try {
      await satisfier.sendReport(report);
      process.stderr.write(`stackseam: report sent to ${sendTo}\n`);
    } catch (err) {
      process.stderr.write(`stackseam task run: ${errorText(err)}\n`);
      return 1;
    }
  } else {
    process.stderr.write(
      `stackseam: report not sent (${values["no-send"] ? "--no-send" : "no event queue configured: --queue-url or SQS_EVENT_QUEUE_URL"})\n`,
    );
  }
  return report.event === "TASK_COMPLETED" ? 0 : 1;
}

/** `stackseam task <subcommand>`: today only `run`. */
export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "run") return taskRun(rest);
  if (sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(help);
    return 0;
  }
  process.stderr.write(
    `stackseam task: ${sub ? `unknown subcommand "${sub}"` : "missing subcommand"}\n\n${help}`,
  );
  return 2;
}
