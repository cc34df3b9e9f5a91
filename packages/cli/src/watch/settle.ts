import type { Stack, StackTask } from "@stackseam/core";
import type { HistoryEntry } from "@stackseam/state-manager";
import type { EventRow } from "./reads.js";

/** `--state removed`: the wait is for the stack's removal (state names are upper case, so no clash). */
export const REMOVED = "removed";

/** What a wait knows at one moment. */
export interface WaitSnapshot {
  /** The stack as it is now; null when there is no row (not created yet, or removed). */
  stack: Stack | null;
  /** With a stack missing: its last applied history row (a removal says `detail.removed`). */
  lastApplied: HistoryEntry | null;
  /** The event the wait follows, and the rows it has produced so far (none: still queued). */
  followed?: { key: string; rows: EventRow[] };
  /** `--state`: a state name, or REMOVED. */
  want?: string;
}

/** The outcome of a wait, or what it still waits for. */
export type Verdict =
  | { kind: "waiting"; why: string }
  | { kind: "settled"; stack: Stack | null }
  | { kind: "failed"; stack: Stack; tasks: StackTask[] }
  | { kind: "removed"; removal: HistoryEntry | null }
  | { kind: "refused"; row: EventRow };

/** A task that failed for good: ERROR with no retry scheduled (one with `retryAt` will run again). */
export function failedForGood(t: StackTask): boolean {
  return t.status === "ERROR" && t.retryAt === undefined;
}

/** A task still to finish: running, or failed with a retry scheduled. */
export function unfinished(t: StackTask): boolean {
  return t.status === "PENDING" || (t.status === "ERROR" && t.retryAt !== undefined);
}

/** Rows an event produces besides its own that do not decide its fate (an automatic upgrade). */
const INCIDENTAL = /#upgrade$/;

/** "provision-env (attempt 1), retry of seed at 12:00:00Z": what a state's unfinished tasks are doing. */
export function describeUnfinished(tasks: readonly StackTask[]): string {
  return tasks
    .filter(unfinished)
    .map((t) =>
      t.status === "PENDING"
        ? `${t.name} (attempt ${t.attempt})`
        : `${t.name} (attempt ${t.attempt} failed; retry at ${t.retryAt})`,
    )
    .join(", ");
}

/**
 * Decides a wait from what it sees, in this order: the followed event must have been processed
 * (refused ends the wait), then the stack must exist (or have been removed), hold no deferred copy
 * of that event, have no task failed for good, no task unfinished, and be in `want` if asked.
 */
export function judge(s: WaitSnapshot): Verdict {
  if (s.followed) {
    const { key, rows } = s.followed;
    const own = rows.find((r) => r.eventKey === key);
    if (!own) return { kind: "waiting", why: `event ${key} has not been processed yet` };
    // The event's own row, or a later row derived from it (a deferred event refused when it
    // was offered again), says it was refused.
    const refusal = rows.find((r) => r.outcome === "refused" && !INCIDENTAL.test(r.eventKey));
    if (refusal) return { kind: "refused", row: refusal };
  }
  const { stack } = s;
  if (!stack) {
    const removal = s.lastApplied?.detail?.removed === true ? s.lastApplied : null;
    if (removal) return s.want === REMOVED ? { kind: "settled", stack: null } : { kind: "removed", removal };
    return { kind: "waiting", why: "the stack does not exist yet" };
  }
  if (s.followed && stack.deferred?.some((d) => d.key === s.followed?.key)) {
    return {
      kind: "waiting",
      why: `event ${s.followed.key} is deferred in ${stack.state} until the stack enters a state that handles it`,
    };
  }
  const failed = stack.tasks.filter(failedForGood);
  if (failed.length > 0) return { kind: "failed", stack, tasks: failed };
  const running = describeUnfinished(stack.tasks);
  if (running !== "") return { kind: "waiting", why: `in ${stack.state}, tasks unfinished: ${running}` };
  if (s.want !== undefined && s.want !== stack.state) {
    return {
      kind: "waiting",
      why: `settled in ${stack.state}, waiting for ${s.want === REMOVED ? "its removal" : s.want}`,
    };
  }
  return { kind: "settled", stack };
}
