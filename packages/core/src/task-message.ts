import type { OutboundTask } from "./decision.js";
import { MachineMismatchError, UnknownTaskError } from "./errors.js";
import type { TaskMessage } from "./generated/task-message.js";
import type { TaskReport } from "./generated/task-report.js";
import type { Machine } from "./machine.js";
import type { Dispatch, Stack } from "./model.js";

/** SQS's per-message payload limit (256 KiB), which every queue accepts: a task message must fit. */
export const MAX_TASK_MESSAGE_BYTES = 262_144;

const utf8 = new TextEncoder();

/** A built task message, or why it cannot be sent (the task is gone from the spec, or it is too big). */
export type BuiltTask = { ok: true; task: OutboundTask } | { ok: false; reason: string };

/** Builds the task-queue message for one dispatch of a stack's task, checked against the SQS limit. */
export function buildTaskMessage(machine: Machine, stack: Stack, dispatch: Dispatch, now: Date): BuiltTask {
  const task = machine.tasks.get(dispatch.task);
  if (!task) {
    return {
      ok: false,
      reason: `machine ${machine.name} has no task ${dispatch.task} (stack ${stack.id}, state ${stack.state})`,
    };
  }
  const message: TaskMessage = {
    stackId: stack.id,
    machine: stack.machine,
    state: stack.state,
    task: dispatch.task,
    executor: task.executor,
    // A copy: the message must not alias the cached machine's spec.
    config: structuredClone(task.config) as unknown as TaskMessage["config"],
    metadata: { ...stack.metadata },
    token: dispatch.token,
    attempt: dispatch.attempt,
    dispatchedAt: now.toISOString(),
  };
  const deadline = stack.tasks.find((t) => t.token === dispatch.token)?.deadline;
  if (deadline !== undefined) message.deadline = deadline;
  const body = JSON.stringify(message);
  const bytes = utf8.encode(body).length;
  if (bytes > MAX_TASK_MESSAGE_BYTES) {
    return {
      ok: false,
      reason: `the task message for ${dispatch.task} would be ${bytes} bytes, over the SQS limit of ${MAX_TASK_MESSAGE_BYTES}; send less metadata`,
    };
  }
  return { ok: true, task: { task: dispatch.task, token: dispatch.token, message, body } };
}

/** `buildTaskMessage` for callers outside a transition (the CLI's `task run`): throws what a transition would refuse. */
export function taskMessage(machine: Machine, stack: Stack, dispatch: Dispatch, now: Date): TaskMessage {
  if (machine.name !== stack.machine) {
    throw new MachineMismatchError(`stack ${stack.id} runs machine ${stack.machine}, not ${machine.name}`);
  }
  const built = buildTaskMessage(machine, stack, dispatch, now);
  if (!built.ok) throw new UnknownTaskError(built.reason);
  return built.task.message;
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
