import type { OutboundTask } from "./decision.js";
import { MachineMismatchError, UnknownTaskError } from "./errors.js";
import type { TaskSpec } from "./generated/machine-spec.js";
import type { TaskMessage } from "./generated/task-message.js";
import type { TaskReport } from "./generated/task-report.js";
import { isoTime } from "./iso-time.js";
import type { Machine } from "./machine.js";
import { MAX_METADATA_KEYS } from "./metadata.js";
import type { Dispatch, Metadata, Stack } from "./model.js";

/** SQS's per-message payload limit (256 KiB), which every queue accepts: a task message must fit. */
export const MAX_TASK_MESSAGE_BYTES = 262_144;

const utf8 = new TextEncoder();

/**
 * A built task message, or why it cannot be sent. `fatal`: the machine has no such task, so the
 * event cannot be applied at all; otherwise only this dispatch fails (an input without a value, a
 * message over the SQS limit) and the task is failed with the reason, for a person to fix and retry.
 */
export type BuiltTask = { ok: true; task: OutboundTask } | { ok: false; reason: string; fatal: boolean };

/** Builds the task-queue message for one dispatch of a stack's task, checked against the SQS limit. */
export function buildTaskMessage(machine: Machine, stack: Stack, dispatch: Dispatch, now: Date): BuiltTask {
  const task = machine.tasks.get(dispatch.task);
  if (!task) {
    return {
      ok: false,
      fatal: true,
      reason: `machine ${machine.name} has no task ${dispatch.task} (stack ${stack.id}, state ${stack.state})`,
    };
  }
  const keys = Object.keys(stack.metadata).length;
  if (keys > MAX_METADATA_KEYS) {
    return {
      ok: false,
      fatal: false,
      reason: `the stack's metadata has ${keys} keys, over the limit of ${MAX_METADATA_KEYS}: remove keys by sending them with null, then RETRY_FAILED_TASKS`,
    };
  }
  const inputs = resolveInputs(task, stack);
  if (!inputs.ok) return { ok: false, fatal: false, reason: inputs.reason };
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
    dispatchedAt: isoTime(now),
  };
  const deadline = stack.tasks.find((t) => t.token === dispatch.token)?.deadline;
  if (deadline !== undefined) message.deadline = deadline;
  if (inputs.values) message.inputs = inputs.values;
  if (task.executor === "terraform" && task.runner) {
    message.runner = structuredClone(task.runner) as unknown as NonNullable<TaskMessage["runner"]>;
  }
  const body = JSON.stringify(message);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: a body short enough fits without encoding it.
  const bytes = body.length * 3 <= MAX_TASK_MESSAGE_BYTES ? undefined : utf8.encode(body).length;
  if (bytes !== undefined && bytes > MAX_TASK_MESSAGE_BYTES) {
    return {
      ok: false,
      fatal: false,
      reason: `the task message for ${dispatch.task} would be ${bytes} bytes, over the SQS limit of ${MAX_TASK_MESSAGE_BYTES}; send less metadata (remove keys by sending them with null), then RETRY_FAILED_TASKS`,
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

/**
 * The task's inputs from the stack's outputs (`<task>.<output>`, split at the last dot). A value that
 * is not a string, number or boolean is passed as its JSON; a missing or sensitive one is an error.
 */
function resolveInputs(
  task: TaskSpec,
  stack: Stack,
): { ok: true; values?: Metadata } | { ok: false; reason: string } {
  if (!task.inputs) return { ok: true };
  const values: Metadata = {};
  for (const [name, ref] of Object.entries(task.inputs)) {
    const dot = ref.lastIndexOf(".");
    const source = ref.slice(0, dot);
    const output = ref.slice(dot + 1);
    const found = stack.outputs?.[source]?.[output];
    if (!found) {
      const has = Object.keys(stack.outputs?.[source] ?? {});
      return {
        ok: false,
        reason: `input ${name}: task ${source} has no output ${output}${has.length > 0 ? ` (its outputs: ${has.join(", ")})` : stack.outputs?.[source] ? "" : " (it has reported no outputs)"}`,
      };
    }
    if (found.sensitive) {
      return {
        ok: false,
        reason: `input ${name}: output ${ref} is sensitive, and Stackseam never keeps the value of a sensitive output`,
      };
    }
    const v = found.value;
    values[name] =
      typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? v : JSON.stringify(v);
  }
  return { ok: true, values };
}
