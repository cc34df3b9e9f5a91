import { Logger } from "@aws-lambda-powertools/logger";
import { parseTaskMessage, type TaskMessage, type TaskReport } from "@stackseam/core";
import { awsClients } from "../aws-clients.js";
import { loadConfig } from "../config.js";
import { TransientError } from "../errors.js";
import type { Deadline } from "../executor.js";
import { withHeartbeats } from "../heartbeats.js";
import { awsLambdaInvoker } from "../lambda-invoker.js";
import { heartbeatReport, reportFor } from "../report.js";
import { createTaskSatisfier, salvageIdentity, type TaskSatisfier } from "../satisfier.js";
import { readRunnerMessage } from "./launcher.js";

/** How long a runner may work when neither the message's deadline nor RUNNER_TIMEOUT_SECONDS says. */
export const DEFAULT_RUNNER_TIMEOUT_SECONDS = 24 * 3600;
const TRANSIENT_ATTEMPTS = 3;
const SEND_ATTEMPTS = 6;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends a report, retrying: a runner has no queue redelivery to fall back on. */
async function sendWithRetries(
  satisfier: TaskSatisfier,
  report: TaskReport,
  logger: Logger,
): Promise<boolean> {
  for (let attempt = 1; attempt <= SEND_ATTEMPTS; attempt++) {
    try {
      await satisfier.sendReport(report);
      logger.info("report sent", { event: report.event, attempt });
      return true;
    } catch (err) {
      logger.warn("sending the report failed", { attempt, error: err as Error });
      if (attempt < SEND_ATTEMPTS) await pause(Math.min(30_000, 500 * 2 ** attempt));
    }
  }
  return false;
}

/** Runs the task, retrying transient trouble (S3 throttling…) a few times before reporting it. */
async function runWithRetries(
  satisfier: TaskSatisfier,
  message: TaskMessage,
  deadline: Deadline,
  signal: AbortSignal,
  heartbeats: boolean,
  logger: Logger,
): Promise<TaskReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await satisfier.runTask(message, deadline, { signal, heartbeats });
    } catch (err) {
      if (!(err instanceof TransientError) || attempt >= TRANSIENT_ATTEMPTS || signal.aborted) {
        const why = err instanceof Error ? err.message : String(err);
        return reportFor(message, {
          ok: false,
          description: `the runner gave up after ${attempt} attempt(s): ${why}`,
        });
      }
      logger.warn("transient error; running the task again", { attempt, error: err });
      await pause(2_000 * attempt);
    }
  }
}

/**
 * The remote runner (ECS task, or a local child process in dev): reads its task message from the
 * environment, runs it with the Task Satisfier's own executors, sends TASK_HEARTBEAT reports while
 * it works and the final report at the end. SIGTERM (ECS stopping the task) stops the run, which is
 * then reported as failed. Returns the process exit code: 0 once the final report is sent.
 */
export async function runnerMain(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const logger = new Logger({ serviceName: "stackseam-runner" });
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    logger.error("configuration error", { error: err as Error });
    return 2;
  }
  const clients = awsClients(env);
  const satisfier = createTaskSatisfier({
    sqs: clients.sqs,
    eventQueueUrl: config.eventQueueUrl,
    s3: clients.s3,
    invoker: awsLambdaInvoker(clients.lambda),
    terraformBin: config.terraformBin,
    deadlineMarginMs: config.deadlineMarginMs,
    backend: config.backend,
    pluginCacheDir: config.pluginCacheDir,
    ...(config.providersMirror !== undefined ? { providersMirror: config.providersMirror } : {}),
    lockTimeoutSeconds: config.lockTimeoutSeconds,
    logger,
  });

  let raw: unknown;
  try {
    raw = await readRunnerMessage(env, clients.s3);
  } catch (err) {
    logger.error("the task message could not be read", { error: err as Error });
    return 2;
  }
  const parsed = parseTaskMessage(raw);
  if (!parsed.ok) {
    const identity = salvageIdentity(raw);
    logger.error("invalid task message", { reason: parsed.reason });
    if (!identity) return 2;
    const sent = await sendWithRetries(
      satisfier,
      reportFor(identity, { ok: false, description: `invalid task message: ${parsed.reason}` }),
      logger,
    );
    return sent ? 0 : 1;
  }
  const message = parsed.message;
  logger.appendKeys({ stackId: message.stackId, task: message.task, token: message.token });

  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    logger.warn(`received ${signal}: stopping the task`);
    controller.abort(new Error(`the runner received ${signal}`));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);

  const timeoutSeconds = Number(env.RUNNER_TIMEOUT_SECONDS ?? DEFAULT_RUNNER_TIMEOUT_SECONDS);
  const stopAt =
    performance.now() +
    (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0
      ? timeoutSeconds
      : DEFAULT_RUNNER_TIMEOUT_SECONDS) *
      1000;
  const deadline: Deadline = {
    remainingMs: () => stopAt - performance.now(),
    label: "the runner's timeout",
    raise: "RUNNER_TIMEOUT_SECONDS",
  };
  const report = await withHeartbeats(
    config.heartbeatIntervalMs,
    () => satisfier.sendReport(heartbeatReport(message)),
    (err) => logger.warn("heartbeat not sent", { error: err as Error }),
    () =>
      runWithRetries(satisfier, message, deadline, controller.signal, config.heartbeatIntervalMs > 0, logger),
  );
  process.removeListener("SIGTERM", stop);
  process.removeListener("SIGINT", stop);
  return (await sendWithRetries(satisfier, report, logger)) ? 0 : 1;
}
