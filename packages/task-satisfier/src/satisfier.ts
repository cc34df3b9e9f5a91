import { Logger } from "@aws-lambda-powertools/logger";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import {
  failureSummary,
  isCarriable,
  parseTaskMessage,
  STACK_ID,
  type TaskMessage,
  type TaskReport,
} from "@stackseam/core";
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { DEFAULT_HEARTBEAT_SECONDS } from "./config.js";
import { ConfigError, TaskSatisfierError, TransientError } from "./errors.js";
import type { Deadline, Executor, ExecutorPlan, ExecutorResult } from "./executor.js";
import { lambdaExecutor } from "./executors/lambda.js";
import { DEFAULT_DEADLINE_MARGIN_MS, terraformExecutor } from "./executors/terraform.js";
import { withHeartbeats } from "./heartbeats.js";
import type { LambdaInvoker } from "./lambda-invoker.js";
import { heartbeatReport, reportFor, sendReport } from "./report.js";
import type { RunnerLauncher } from "./runner/launcher.js";
import type { BackendSettings } from "./terraform-backend.js";

export interface TaskSatisfierOptions {
  /** Where reports go; without them `runTask` and `plan` still work but nothing can be reported. */
  sqs?: SQSClient;
  eventQueueUrl?: string;
  s3: S3Client;
  invoker: LambdaInvoker;
  /** `terraform` (default) or `tofu`, or an absolute path. */
  terraformBin?: string;
  logger?: Logger;
  /** Parent folder of the per-run temp dirs (default: the OS temp dir). */
  workDir?: string;
  /** Time kept back before the deadline to stop a task and report (default 30 s). */
  deadlineMarginMs?: number;
  /** Replaces or adds executors by name (tests, extensions). */
  executors?: Record<string, Executor>;
  /** Terraform: the state bucket for modules without a backend, and an S3-compatible endpoint (dev). */
  backend?: BackendSettings;
  /** Terraform: extra environment for every Terraform process (dev: endpoint, region, test credentials). */
  terraformEnv?: Record<string, string>;
  /** Terraform: provider plugin cache shared by runs (default: none here; the Lambda handler sets one under /tmp). */
  pluginCacheDir?: string | null;
  /** Terraform: a provider filesystem mirror; providers are installed only from it. */
  providersMirror?: string;
  /** Terraform: `-lock-timeout` of apply/destroy in seconds (default 300). */
  lockTimeoutSeconds?: number;
  /** How often a running task sends TASK_HEARTBEAT (default 30 s; 0: never). */
  heartbeatIntervalMs?: number;
  /** Starts tasks whose message names a `runner` (ECS in Lambda, a local child process in dev). */
  runnerLauncher?: RunnerLauncher;
}

export interface RunTaskOptions {
  /** Stops the task early; it is then reported as failed. */
  signal?: AbortSignal;
  /**
   * The caller sends TASK_HEARTBEAT while the task runs. Heartbeats push the State Manager's
   * deadline, so the message's `deadline` then only decides whether the task starts at all.
   */
  heartbeats?: boolean;
}

/** What a dry run shows for a task message. */
export type TaskPlan = ExecutorPlan & {
  task: Pick<TaskMessage, "stackId" | "machine" | "state" | "task" | "token">;
};

export interface TaskSatisfier {
  /** SQS batch → `{ batchItemFailures }`; a task message object (direct invocation) → its report, also sent. */
  handler(event: SQSEvent | TaskMessage, context: Context): Promise<SQSBatchResponse | TaskReport>;
  /**
   * Runs one task here (whatever its `runner`) and returns its report without sending it. Stops
   * before the earlier of `deadline` and the message's own `deadline`. Throws only TransientError.
   */
  runTask(message: TaskMessage, deadline: Deadline, opts?: RunTaskOptions): Promise<TaskReport>;
  /** The exact commands or payload a task would run, without running anything. */
  plan(message: TaskMessage): TaskPlan;
  /** Sends a report to the event queue (throws when no queue is configured or the send fails). */
  sendReport(report: TaskReport): Promise<void>;
}

function isSqsEvent(event: unknown): event is SQSEvent {
  return (
    typeof event === "object" && event !== null && Array.isArray((event as { Records?: unknown }).Records)
  );
}

/** stackId, task and token from a message that failed validation, when they are readable. */
export function salvageIdentity(body: unknown): Pick<TaskMessage, "stackId" | "task" | "token"> | null {
  let data = body;
  if (typeof body === "string") {
    try {
      data = JSON.parse(body);
    } catch {
      return null;
    }
  }
  if (typeof data !== "object" || data === null) return null;
  const { stackId, task, token } = data as Record<string, unknown>;
  // A report carrying text SQS refuses could never be sent: such a message is logged and dropped.
  const str = (v: unknown, max: number): v is string =>
    typeof v === "string" && v.length >= 1 && v.length <= max && isCarriable(v);
  if (typeof stackId !== "string" || !STACK_ID.test(stackId) || !str(task, 64) || !str(token, 128))
    return null;
  return { stackId, task, token };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

const seconds = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)} s`;

/**
 * The earlier of the invocation's deadline and the message's own (`deadline`: when the State
 * Manager times the attempt out unless heartbeats push it), named for the messages that mention it.
 */
export function taskDeadline(deadline: Deadline, message: Pick<TaskMessage, "deadline">): Deadline {
  const at = message.deadline === undefined ? Number.NaN : Date.parse(message.deadline);
  if (!Number.isFinite(at)) return deadline;
  const ownMs = () => at - Date.now();
  const remainingMs = () => Math.min(ownMs(), deadline.remainingMs());
  if (ownMs() >= deadline.remainingMs()) return { ...deadline, remainingMs };
  return {
    remainingMs,
    label: `the task's deadline (${message.deadline})`,
    raise: "the task's timeout in the spec",
  };
}

/** A Task Satisfier wired to the given clients: used by the Lambda handler, `stackseam dev`, `stackseam task run` and tests. */
export function createTaskSatisfier(opts: TaskSatisfierOptions): TaskSatisfier {
  const logger = opts.logger ?? new Logger({ serviceName: "stackseam-task-satisfier" });
  const margin = opts.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  const executors: Record<string, Executor> = {
    terraform: terraformExecutor({
      s3: opts.s3,
      deadlineMarginMs: margin,
      ...(opts.terraformBin !== undefined ? { bin: opts.terraformBin } : {}),
      ...(opts.workDir !== undefined ? { workDir: opts.workDir } : {}),
      ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
      ...(opts.terraformEnv !== undefined ? { env: opts.terraformEnv } : {}),
      ...(opts.pluginCacheDir !== undefined ? { pluginCacheDir: opts.pluginCacheDir } : {}),
      ...(opts.providersMirror !== undefined ? { providersMirror: opts.providersMirror } : {}),
      ...(opts.lockTimeoutSeconds !== undefined ? { lockTimeoutSeconds: opts.lockTimeoutSeconds } : {}),
    }),
    lambda: lambdaExecutor({ invoker: opts.invoker, deadlineMarginMs: margin }),
    ...opts.executors,
  };

  const executorFor = (name: string): Executor | undefined =>
    Object.hasOwn(executors, name) ? executors[name] : undefined;
  const unknownExecutor = (name: string) =>
    `unknown executor ${JSON.stringify(name)}: known executors are ${Object.keys(executors).join(", ")}`;

  const heartbeatMs = opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_SECONDS * 1000;

  async function runTask(
    message: TaskMessage,
    invocation: Deadline,
    runOpts: RunTaskOptions = {},
  ): Promise<TaskReport> {
    // With heartbeats the State Manager keeps pushing the deadline: only the invocation's stops the task.
    const deadline = runOpts.heartbeats ? invocation : taskDeadline(invocation, message);
    const log = logger.createChild();
    log.appendKeys({
      stackId: message.stackId,
      task: message.task,
      token: message.token,
      executor: message.executor,
    });
    const executor = executorFor(message.executor);
    const started = performance.now();
    let result: ExecutorResult;
    const ownLeftMs = message.deadline === undefined ? Number.NaN : Date.parse(message.deadline) - Date.now();
    if (!executor) {
      result = { ok: false, description: unknownExecutor(message.executor) };
    } else if (runOpts.heartbeats && ownLeftMs <= margin) {
      // Too late for a heartbeat to push it: the attempt times out before a report could count.
      result = {
        ok: false,
        description: `not started: only ${seconds(ownLeftMs)} left before the task's deadline (${message.deadline}) and ${seconds(margin)} are kept back (TERRAFORM_DEADLINE_MARGIN_MS); raise the task's timeout in the spec`,
      };
    } else {
      log.info("task started", { machine: message.machine, state: message.state, attempt: message.attempt });
      try {
        result = await executor.run(message, {
          deadline,
          logger: log,
          ...(runOpts.signal ? { signal: runOpts.signal } : {}),
        });
      } catch (err) {
        if (err instanceof TransientError) throw err;
        // A bug or an environment failure (disk full…) is still this task's failure, not a reason to loop.
        log.error("task crashed", { error: err as Error });
        result = {
          ok: false,
          description: `the Task Satisfier failed while running the task: ${errorText(err)}`,
        };
      }
    }
    const durationMs = Math.round(performance.now() - started);
    if (result.ok) log.info("task completed", { durationMs });
    else
      log.warn("task failed", {
        durationMs,
        // Terraform prints warnings first: the first 512 characters rarely hold the Error: line.
        summary: failureSummary(result.description),
        description: result.description.slice(0, 512),
      });
    return reportFor(message, result);
  }

  function plan(message: TaskMessage): TaskPlan {
    const task = {
      stackId: message.stackId,
      machine: message.machine,
      state: message.state,
      task: message.task,
      token: message.token,
    };
    const executor = executorFor(message.executor);
    if (!executor) return { ok: false, description: unknownExecutor(message.executor), task };
    return { ...executor.plan(message), task };
  }

  async function send(report: TaskReport): Promise<void> {
    if (!opts.sqs || !opts.eventQueueUrl)
      throw new ConfigError(["SQS_EVENT_QUEUE_URL is required to send reports"]);
    await sendReport(opts.sqs, opts.eventQueueUrl, report);
  }

  async function handleRecord(record: SQSRecord, deadline: Deadline): Promise<boolean> {
    const parsed = parseTaskMessage(record.body);
    let report: TaskReport;
    if (!parsed.ok) {
      const identity = salvageIdentity(record.body);
      if (!identity) {
        // Nobody can be told about it: log and acknowledge rather than retry it forever.
        logger.error("unreadable task message dropped", {
          messageId: record.messageId,
          reason: parsed.reason,
        });
        return true;
      }
      logger.error("invalid task message reported as TASK_ERROR", {
        messageId: record.messageId,
        ...identity,
      });
      report = reportFor(identity, { ok: false, description: `invalid task message: ${parsed.reason}` });
    } else if (parsed.message.runner !== undefined) {
      const launched = await launch(parsed.message);
      if (launched === "retry") return false;
      if (launched === null) return true;
      report = launched;
    } else {
      const message = parsed.message;
      const beatMs = opts.sqs && opts.eventQueueUrl ? heartbeatMs : 0;
      try {
        report = await withHeartbeats(
          beatMs,
          () => send(heartbeatReport(message)),
          (err) =>
            logger.warn("heartbeat not sent", {
              stackId: message.stackId,
              task: message.task,
              error: err as Error,
            }),
          () => runTask(message, deadline, { heartbeats: beatMs > 0 }),
        );
      } catch (err) {
        logger.warn("task hit a transient error; the message will be retried", {
          messageId: record.messageId,
          stackId: parsed.message.stackId,
          task: parsed.message.task,
          error: err as Error,
        });
        return false;
      }
    }
    try {
      await send(report);
      logger.info("report sent", {
        stackId: report.stackId,
        task: report.task,
        token: report.token,
        event: report.event,
      });
      return true;
    } catch (err) {
      logger.error("report could not be sent; the message will be retried", {
        messageId: record.messageId,
        stackId: report.stackId,
        task: report.task,
        error: err as Error,
      });
      return false;
    }
  }

  /**
   * Starts a task on its runner: null when it started (the runner reports), a TASK_ERROR report
   * when it cannot start, "retry" on transient trouble.
   */
  async function launch(message: TaskMessage): Promise<TaskReport | null | "retry"> {
    const log = logger.createChild();
    log.appendKeys({ stackId: message.stackId, task: message.task, token: message.token });
    if (!opts.runnerLauncher) {
      return reportFor(message, {
        ok: false,
        description:
          "the task names a runner, but this Task Satisfier has no runner launcher (ECS) configured",
      });
    }
    try {
      const started = await opts.runnerLauncher.launch(message, { logger: log });
      if (started.ok) {
        log.info("task handed to its runner", { runnerTask: started.id });
        return null;
      }
      log.warn("runner could not start", { description: started.description });
      return reportFor(message, started);
    } catch (err) {
      if (err instanceof TransientError) {
        log.warn("starting the runner hit a transient error; the message will be retried", { error: err });
        return "retry";
      }
      log.error("starting the runner crashed", { error: err as Error });
      return reportFor(message, { ok: false, description: `starting the runner failed: ${errorText(err)}` });
    }
  }

  async function handleBatch(records: SQSRecord[], deadline: Deadline): Promise<SQSBatchResponse> {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    for (const [i, record] of records.entries()) {
      // After the first record, a task that cannot finish in time goes back to the queue untouched.
      if (i > 0 && deadline.remainingMs() <= margin) {
        logger.warn("too little time left; message returned to the queue", { messageId: record.messageId });
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      if (!(await handleRecord(record, deadline)))
        batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures };
  }

  async function handleDirect(event: unknown, deadline: Deadline): Promise<TaskReport> {
    const parsed = parseTaskMessage(event);
    let report: TaskReport;
    if (parsed.ok && parsed.message.runner !== undefined) {
      // Started on its runner, which sends the reports: the caller gets a heartbeat, nothing is sent.
      const launched = await launch(parsed.message);
      if (launched === "retry")
        throw new TransientError("starting the runner failed transiently; invoke again");
      if (launched === null) return heartbeatReport(parsed.message);
      report = launched;
    } else if (parsed.ok) {
      report = await runTask(parsed.message, deadline);
    } else {
      const identity = salvageIdentity(event);
      if (!identity)
        throw new TaskSatisfierError("INVALID_MESSAGE", `invalid task message: ${parsed.reason}`);
      report = reportFor(identity, { ok: false, description: `invalid task message: ${parsed.reason}` });
    }
    await send(report);
    return report;
  }

  async function handler(
    event: SQSEvent | TaskMessage,
    context: Context,
  ): Promise<SQSBatchResponse | TaskReport> {
    try {
      logger.addContext(context);
    } catch {
      // A partial context (tests, dev) only costs the Lambda fields in the logs.
    }
    const deadline: Deadline = { remainingMs: () => context.getRemainingTimeInMillis() };
    return isSqsEvent(event) ? handleBatch(event.Records, deadline) : handleDirect(event, deadline);
  }

  return { handler, runTask, plan, sendReport: send };
}
