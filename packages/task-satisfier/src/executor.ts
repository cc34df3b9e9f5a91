import type { Logger } from "@aws-lambda-powertools/logger";
import type { TaskMessage } from "@stackseam/core";

/** How much time the invocation has left (in Lambda: `context.getRemainingTimeInMillis`). */
export interface Deadline {
  remainingMs(): number;
}

export interface ExecutorContext {
  deadline: Deadline;
  /** Carries stackId, task and token as keys. */
  logger: Logger;
}

/** The outcome of running a task: expected failures are data; only transient trouble throws (TransientError). */
export type ExecutorResult = { ok: true; output?: string } | { ok: false; description: string };

/** What a dry run prints: the exact commands or payload, nothing executed. */
export type ExecutorPlan = { ok: true; plan: Record<string, unknown> } | { ok: false; description: string };

/** Runs one kind of task (`task.executor`). */
export interface Executor {
  run(task: TaskMessage, ctx: ExecutorContext): Promise<ExecutorResult>;
  plan(task: TaskMessage): ExecutorPlan;
}
