import { CoreError } from "./errors.js";
import type { TaskMessage } from "./generated/task-message.js";
import type { TaskReport } from "./generated/task-report.js";
import type { Machine } from "./machine.js";
import type { Dispatch, Stack } from "./model.js";

/** Builds the task-queue message for one dispatch of a stack's task. */
export function taskMessage(machine: Machine, stack: Stack, dispatch: Dispatch, now: Date): TaskMessage {
  const task = machine.tasks.get(dispatch.task);
  if (!task) {
    throw new CoreError(
      "UNKNOWN_TASK",
      `machine ${machine.name} has no task ${dispatch.task} (stack ${stack.id}, state ${stack.state})`,
    );
  }
  if (machine.name !== stack.machine) {
    throw new CoreError(
      "MACHINE_MISMATCH",
      `stack ${stack.id} runs machine ${stack.machine}, not ${machine.name}`,
    );
  }
  return {
    stackId: stack.id,
    machine: stack.machine,
    state: stack.state,
    task: dispatch.task,
    executor: task.executor,
    // A copy: the message is serialised later and must not alias the cached machine's spec.
    config: structuredClone(task.config) as unknown as TaskMessage["config"],
    metadata: { ...stack.metadata },
    token: dispatch.token,
    attempt: dispatch.attempt,
    dispatchedAt: now.toISOString(),
  };
}

/** The most a TASK_ERROR description may hold (schemas/task-report.schema.json). */
export const MAX_DESCRIPTION_LENGTH = 16384;

/** Builds the report a Task Satisfier sends back; long descriptions keep their tail, where the error usually is. */
export function taskReport(
  message: Pick<TaskMessage, "stackId" | "task" | "token">,
  outcome: { ok: true } | { ok: false; description: string },
): TaskReport {
  const base = { stackId: message.stackId, task: message.task, token: message.token };
  if (outcome.ok) return { ...base, event: "TASK_COMPLETED" };
  return { ...base, event: "TASK_ERROR", description: tail(outcome.description, MAX_DESCRIPTION_LENGTH) };
}

function tail(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return `…${chars.slice(chars.length - max + 1).join("")}`;
}
