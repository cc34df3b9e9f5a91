import type { TaskMessage } from "./generated/task-message.js";
import type { Dispatch, EngineEvent, Outcome, Stack, Timer } from "./model.js";
import type { Notification } from "./notifications.js";

/** A task message ready for the outbox: the message and the exact JSON body that will be sent. */
export interface OutboundTask {
  task: string;
  token: string;
  message: TaskMessage;
  body: string;
}

/**
 * A further history row written with the event's own (an automatic machine upgrade, a deferred
 * event applied at a state entry). Its key is derived from the event's, so a redelivery of the
 * event is still recognised as one.
 */
export interface AlsoRecorded {
  event: string;
  key: string;
  outcome: Outcome;
  reason?: string;
  from: string | null;
  to: string | null;
  detail: Record<string, unknown>;
}

/** The parts every decision has: where the stack was, and what its history row records. */
interface DecisionBase {
  /** The stack's state before the event (null: the stack did not exist). */
  from: string | null;
  /** The history row's detail: metadata keys, a failure's description, dispatches, removal, the note. */
  detail: Record<string, unknown>;
  /** Further history rows, in order (usually none). */
  also?: AlsoRecorded[];
  /** What to tell the machine's notification targets (written with the event, sent after commit). */
  notifications?: Notification[];
}

/** The event changed the stack (or removed it). */
export interface AppliedDecision extends DecisionBase {
  outcome: "applied";
  /** The next stack; null when the stack was removed (or a first event removed it at once). */
  stack: Stack | null;
  to: string;
  /** States entered in order during this transition (advances and NEXT firings). */
  path: string[];
  dispatch: Dispatch[];
  /** One task message per dispatch, fully built. */
  tasks: OutboundTask[];
  removed: boolean;
  /** A short human note, e.g. "NEXT fired: all 2 tasks satisfied". */
  note?: string;
  /** The stack's timers after the event, when they changed (empty: none left). */
  timers?: Timer[];
  /**
   * With `timers`: the names among them whose due time is what it was before the event. Their rows
   * need only exist: rewriting an unchanged row still locks it, a WAL record for nothing.
   */
  timersKept?: string[];
}

/** The event changed nothing: refused (not allowed) or ignored (stale, nothing to do). */
export interface UnappliedDecision extends DecisionBase {
  outcome: "refused" | "ignored";
  reason: string;
}

/**
 * Everything one event does, as data: the State Manager writes the stack, the history row and the
 * outbox exactly as decided and decides nothing itself.
 */
export type Decision = AppliedDecision | UnappliedDecision;

/** The machine an event is decided by, or why it could not be loaded (unknown, invalid spec). */
export type MachineRef<M> = { ok: true; machine: M } | { ok: false; reason: string };

/** The history detail every outcome records about the event itself. */
export function eventDetail(event: EngineEvent): Record<string, unknown> {
  const detail: Record<string, unknown> = {};
  if (event.metadata && Object.keys(event.metadata).length > 0)
    detail.metadataKeys = Object.keys(event.metadata);
  if (event.description !== undefined) detail.description = event.description;
  return detail;
}

/** A refusal: the event is not allowed; nothing changes. */
export function refused(event: EngineEvent, from: string | null, reason: string): UnappliedDecision {
  return { outcome: "refused", reason, from, detail: eventDetail(event) };
}

/** Nothing to act on (a stale or repeated report, a retry with nothing to retry); nothing changes. */
export function ignored(event: EngineEvent, from: string | null, reason: string): UnappliedDecision {
  return { outcome: "ignored", reason, from, detail: eventDetail(event) };
}
