import { readFile } from "node:fs/promises";
import { text as streamText } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { Logger, type LogItem } from "@aws-lambda-powertools/logger";
import { parseTaskMessage, type TaskMessage } from "@stackseam/core";
import {
  awsClients,
  awsLambdaInvoker,
  createTaskSatisfier,
  DEFAULT_TERRAFORM_BIN,
  type LambdaInvoker,
  localLambdaInvoker,
} from "@stackseam/task-satisfier";
import { resolveConnection } from "../connection.js";

const help = `Usage: stackseam task run <task-message.json | -> [options]

Runs one task message on this machine through the Task Satisfier's own code (same executors,
same checks, same Terraform command line) and prints the report JSON on stdout. Progress and
Terraform's output go to stderr.

Options:
  --dry-run            print the exact commands (terraform) or invocation (lambda) as JSON; run and send nothing
  --functions DIR      run lambda tasks from DIR/<name>.mjs|.js instead of invoking AWS Lambda
  --terraform-bin BIN  terraform or tofu binary (default: TERRAFORM_BIN, else "terraform")
  --queue-url URL      also send the report to this event queue
                       (default: SQS_EVENT_QUEUE_URL, else a running \`stackseam dev\`; none: only print)
  --no-send            only print the report, even when a queue is configured
  --timeout SECONDS    stop Terraform after this long (default 3600)

Exit codes: 0 TASK_COMPLETED (or a dry run), 1 TASK_ERROR or the report could not be sent,
2 usage error or an unreadable/invalid task message.
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
      .map((k) => `${k}=${typeof rest[k] === "string" ? rest[k] : JSON.stringify(rest[k])}`);
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
function clients(queueFlag: string | undefined) {
  const env = process.env;
  const conn = resolveConnection(queueFlag ? { queueUrl: queueFlag } : {});
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

async function taskRun(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseRunArgs>;
  try {
    parsed = parseRunArgs(args);
  } catch (err) {
    process.stderr.write(`stackseam task run: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) {
    process.stderr.write(
      `stackseam task run: give exactly one task message file (or - for stdin)\n\n${help}`,
    );
    return 2;
  }
  const timeoutSeconds = values.timeout === undefined ? 3600 : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    process.stderr.write(`stackseam task run: --timeout must be a positive number of seconds\n`);
    return 2;
  }
  const read = await readMessage(file);
  if (!read.ok) {
    process.stderr.write(`stackseam task run: ${read.reason}\n`);
    return 2;
  }
  const message = read.message;

  const aws = clients(values["queue-url"]);
  const invoker: LambdaInvoker = values.functions
    ? localLambdaInvoker(values.functions)
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
  const report = await satisfier.runTask(message, { remainingMs: () => stopAt - performance.now() });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (sendTo) {
    try {
      await satisfier.sendReport(report);
      process.stderr.write(`stackseam: report sent to ${sendTo}\n`);
    } catch (err) {
      process.stderr.write(`stackseam task run: ${(err as Error).message}\n`);
      return 1;
    }
  } else {
    process.stderr.write(
      `stackseam: report not sent (${values["no-send"] ? "--no-send" : "no event queue configured: --queue-url or SQS_EVENT_QUEUE_URL"})\n`,
    );
  }
  return report.event === "TASK_COMPLETED" ? 0 : 1;
}

function parseRunArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      "dry-run": { type: "boolean" },
      functions: { type: "string" },
      "terraform-bin": { type: "string" },
      "queue-url": { type: "string" },
      "no-send": { type: "boolean" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
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
