/**
 * The engine's domain model: stacks, their tasks, engine events and transition results.
 * Message and spec shapes come from `schemas/` (see ./generated); these are the engine's own.
 */

/** A metadata value: flat scalars only (nested values are refused at the edge). */
export type Scalar = string | number | boolean;
export type Metadata = Record<string, Scalar>;
/** What an event merges into its stack's metadata: a value sets a key, null removes it. */
export type MetadataPatch = Record<string, Scalar | null>;

export const TASK_STATUSES = ["PENDING", "SATISFIED", "ERROR"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Reports a Task Satisfier (or a remote runner) sends about one dispatch of a task. */
export const REPORT_EVENTS = ["TASK_COMPLETED", "TASK_ERROR", "TASK_HEARTBEAT"] as const;
export type ReportEvent = (typeof REPORT_EVENTS)[number];

/** Events the engine itself understands; NEXT is internal and refused from outside. */
export const SYSTEM_EVENTS = [
  ...REPORT_EVENTS,
  "RETRY_FAILED_TASKS",
  "RETRY_PENDING_TASKS",
  "UPGRADE_MACHINE",
  "EXTEND_TTL",
  "TIMER",
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
  /** When the current attempt was dispatched. */
  dispatchedAt?: string;
  /** When the current attempt was satisfied or failed. */
  finishedAt?: string;
  /** PENDING with a `timeout`: when the attempt is timed out (heartbeats push it). */
  deadline?: string;
  /** ERROR with retries left: when the next attempt is dispatched. */
  retryAt?: string;
}

/** One output of a task, as the stack keeps it: a sensitive one by name only. */
export type OutputValue = { value: unknown; sensitive: false } | { sensitive: true };

/** An event a state deferred: kept, in arrival order, until a state handles it. */
export interface DeferredEvent {
  name: string;
  /** The event's idempotency key: a redelivery is never queued twice. */
  key: string;
  metadata?: Metadata;
  /** When it was deferred. */
  at: string;
}

/** A per-stack change to the machine's TTL (EXTEND_TTL): a later deadline, or no TTL at all. */
export type TtlOverride = { until: string } | { exempt: true };

/** A stack as persisted: its machine, state, merged metadata and the current state's tasks. */
export interface Stack {
  id: string;
  machine: string;
  /** The machine version the stack runs: events are decided by it, whatever the current spec says. */
  version: string;
  state: string;
  metadata: Metadata;
  tasks: StackTask[];
  /**
   * Increments on every state entry: tells entries apart for people and for keys such as the CLI's
   * upgrade event id. Dispatch tokens do not use it (they are random UUIDs).
   */
  entry: number;
  createdAt: string;
  updatedAt: string;
  /** When the current state was entered. */
  enteredAt?: string;
  /** When an event from outside (not a report, not a timer) was last applied: the idle TTL counts from it. */
  activeAt?: string;
  /** Outputs of the tasks that reported them, by task; replaced when a task completes again. */
  outputs?: Record<string, Record<string, OutputValue>>;
  /** Events deferred by the states the stack passed, oldest first. */
  deferred?: DeferredEvent[];
  ttl?: TtlOverride;
  /** The TTL due time a warning was sent for, and one the TTL fired for (each happens once). */
  ttlWarnedFor?: string;
  ttlFiredFor?: string;
}

/** A due time of a stack, derived from the stack and its machine (see timersOf). */
export interface Timer {
  /** `timeout:<task>`, `retry:<task>`, `ttl` or `ttl-warning`. */
  name: string;
  dueAt: string;
}

/** An event as the engine sees it, after message validation. */
export interface EngineEvent {
  name: string;
  /** The stack the event is for; needed to create a stack (parseEventMessage always sets it). */
  stackId?: string;
  /** Idempotency key: the publisher's eventId or the SQS message id. */
  key: string;
  machine?: string;
  metadata?: MetadataPatch;
  /** Reports (TASK_COMPLETED / TASK_ERROR / TASK_HEARTBEAT) only. */
  task?: string;
  token?: string;
  description?: string;
  /** TASK_COMPLETED: the task's outputs. */
  outputs?: Record<string, OutputValue>;
  /** EXTEND_TTL: a duration from now, `never` or `default`. */
  ttl?: string;
  /** TIMER (fired by the tick): which of the stack's timers, and the due time it was read with. */
  timer?: { name: string; dueAt: string };
  /** Sent by the tick for a machine schedule: it is not activity (the idle TTL does not restart). */
  scheduled?: { name: string; occurrence: string };
}

/** Injected so that `transition` stays deterministic. */
export interface Deps {
  now(): Date;
  /** A fresh, globally unique dispatch token. */
  newToken(): string;
  /** A number in [0, 1) for retry jitter; without it, jitter uses the full delay. */
  random?(): number;
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
