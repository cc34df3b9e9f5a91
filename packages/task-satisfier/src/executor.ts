import type { Logger } from "@aws-lambda-powertools/logger";
import type { TaskMessage } from "@stackseam/core";
import type { TaskOutputs } from "./outputs.js";

/** How much time the invocation has left (in Lambda: `context.getRemainingTimeInMillis`). */
export interface Deadline {
  remainingMs(): number;
  /** What the deadline is, for messages: "the Lambda deadline" (default), "the task's deadline"… */
  label?: string;
  /** What to raise when it is too short (default: "the function timeout"). */
  raise?: string;
}

export interface ExecutorContext {
  deadline: Deadline;
  /** Carries stackId, task and token as keys. */
  logger: Logger;
  /** Stops the task early (a runner asked to stop); it is then reported as failed. */
  signal?: AbortSignal;
}

/** The outcome of running a task: expected failures are data; only transient trouble throws (TransientError). */
export type ExecutorResult =
  | { ok: true; output?: string; outputs?: TaskOutputs }
  | { ok: false; description: string };

/** What a dry run prints: the exact commands or payload, nothing executed. */
export type ExecutorPlan = { ok: true; plan: Record<string, unknown> } | { ok: false; description: string };

/** Runs one kind of task (`task.executor`). */
export interface Executor {
  run(task: TaskMessage, ctx: ExecutorContext): Promise<ExecutorResult>;
  plan(task: TaskMessage): ExecutorPlan;
}

/** The words for a deadline in messages. */
export const deadlineLabel = (deadline: Deadline) => deadline.label ?? "the Lambda deadline";

/** The advice when a deadline leaves no time to start. */
export const raiseHint = (deadline: Deadline) => `raise ${deadline.raise ?? "the function timeout"}`;
