/**
 * The engine's domain model: stacks, their tasks, engine events and transition results.
 * Message and spec shapes come from `schemas/` (see ./generated); these are the engine's own.
 */

/** A metadata value: flat scalars only (nested values are refused at the edge). */
export type Scalar = string | number | boolean;
export type Metadata = Record<string, Scalar>;

export const TASK_STATUSES = ["PENDING", "SATISFIED", "ERROR"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Reports a Task Satisfier (or a remote runner) sends about one dispatch of a task. */
export const REPORT_EVENTS = ["TASK_COMPLETED", "TASK_ERROR"] as const;
export type ReportEvent = (typeof REPORT_EVENTS)[number];

/** Events the engine itself understands; NEXT is internal and refused from outside. */
export const SYSTEM_EVENTS = [
  ...REPORT_EVENTS,
  "RETRY_FAILED_TASKS",
  "RETRY_PENDING_TASKS",
  "UPGRADE_MACHINE",
] as const;

/** Whether an event name is a task report (it names a task and a dispatch token). */
export function isReportEvent(name: string): name is ReportEvent {
  return (REPORT_EVENTS as readonly string[]).includes(name);
}

export const NEXT = "NEXT";
export const INIT = "INIT";

/** One task of the stack's current state. `token` identifies its latest dispatch. */
export interface StackTask {
  name: string;
  status: TaskStatus;
  token: string;
  attempt: number;
  description?: string;
}

/** A stack as persisted: its machine, state, merged metadata and the current state's tasks. */
export interface Stack {
  id: string;
  machine: string;
  /** The machine version the stack runs: events are decided by it, whatever the current spec says. */
  version: string;
  state: string;
  metadata: Metadata;
  tasks: StackTask[];
  /** Increments on every state entry; part of what makes a dispatch token unique. */
  entry: number;
  createdAt: string;
  updatedAt: string;
}

/** An event as the engine sees it, after message validation. */
export interface EngineEvent {
  name: string;
  /** The stack the event is for; needed to create a stack (parseEventMessage always sets it). */
  stackId?: string;
  /** Idempotency key: the publisher's eventId or the SQS message id. */
  key: string;
  machine?: string;
  metadata?: Metadata;
  /** Reports (TASK_COMPLETED / TASK_ERROR) only. */
  task?: string;
  token?: string;
  description?: string;
}

/** Injected so that `transition` stays deterministic. */
export interface Deps {
  now(): Date;
  /** A fresh, globally unique dispatch token. */
  newToken(): string;
}

/** A task message to send for a newly dispatched task (see schemas/task-message.schema.json). */
export interface Dispatch {
  task: string;
  token: string;
  attempt: number;
}

export const OUTCOMES = ["applied", "refused", "ignored"] as const;
export type Outcome = (typeof OUTCOMES)[number];

export type Severity = "error" | "warning";

/** A spec problem, positioned so an editor or a person can jump to it. */
export interface Diagnostic {
  severity: Severity;
  /** Dotted path in the spec, e.g. `states.PROVISION.on.NEXT[0].state`. */
  path: string;
  line: number;
  column: number;
  message: string;
  file?: string;
}
