// How the CLI words time: a due time relative to now, and what a timer does when it fires.
import { type Machine, parseDuration, type Stack, ttlDue, ttlFor } from "@stackseam/core";

const UNITS = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
] as const;

/** A span in its two largest units (`2d3h`, `4m10s`, `12s`), for people rather than specs. */
export function roughDuration(ms: number): string {
  const seconds = Math.abs(Math.round(ms / 1000)) * 1000;
  const first = UNITS.findIndex(([, size]) => seconds >= size);
  if (first < 0) return "0s";
  const [unit, size] = UNITS[first]!;
  let text = `${Math.floor(seconds / size)}${unit}`;
  const next = UNITS[first + 1];
  if (next) {
    const n = Math.floor((seconds % size) / next[1]);
    if (n > 0) text += `${n}${next[0]}`;
  }
  return text;
}

/** "in 2d3h", "12s ago" or "now" (within a second). */
export function relativeTime(at: string, now: Date): string {
  const ms = Date.parse(at) - now.getTime();
  if (!Number.isFinite(ms)) return "-";
  if (Math.abs(ms) < 1000) return "now";
  return ms > 0 ? `in ${roughDuration(ms)}` : `${roughDuration(ms)} ago`;
}

/** The kind of a timer name and the task it is about: `timeout:apply` → ["timeout", "apply"]. */
export function splitTimerName(name: string): { kind: string; task?: string } {
  const colon = name.indexOf(":");
  return colon < 0 ? { kind: name } : { kind: name.slice(0, colon), task: name.slice(colon + 1) };
}

/**
 * What a timer does when it fires, in words: `ttlEvent` is the event the stack's TTL sends (from
 * its machine), when known.
 */
export function timerEffect(name: string, ttlEvent?: string): string {
  const { kind, task } = splitTimerName(name);
  switch (kind) {
    case "timeout":
      return `times out task ${task ?? "?"}`;
    case "retry":
      return `retries task ${task ?? "?"}`;
    case "ttl":
      return ttlEvent ? `TTL: sends ${ttlEvent}` : "TTL: sends its event";
    case "ttl-warning":
      return ttlEvent ? `TTL warning (before ${ttlEvent})` : "TTL warning";
    default:
      return name;
  }
}

/** Where a stack's TTL stands: when it fires, why, and what changed it. */
export interface TtlStatus {
  event: string;
  dueAt: string;
  why: string;
  /** Whose TTL it is: the current state's own, or the machine's. */
  from: "state" | "machine";
  warnAt?: string;
  /** Whether the TTL already fired (or warned) for this due time. */
  fired: boolean;
  warned: boolean;
}

/**
 * The stack's TTL as its machine defines it (null: none applies in its state, or EXTEND_TTL
 * exempted the stack; `stack.ttl` says which).
 */
export function ttlStatus(machine: Machine, stack: Stack): TtlStatus | null {
  const due = ttlDue(machine, stack);
  if (!due) return null;
  const spec = ttlFor(machine, stack.state);
  const status: TtlStatus = {
    event: due.ttl.event,
    dueAt: due.at,
    why: due.why,
    from: machine.states.get(stack.state)?.ttl === spec ? "state" : "machine",
    fired: stack.ttlFiredFor === due.at,
    warned: stack.ttlWarnedFor === due.at,
  };
  const warn = due.ttl.warn ? parseDuration(due.ttl.warn) : undefined;
  if (warn !== undefined) status.warnAt = new Date(Date.parse(due.at) - warn).toISOString();
  return status;
}

/** The TTL event of the stack's current state, when its machine has one there. */
export function ttlEventOf(machine: Machine | null, state: string | null): string | undefined {
  return machine && state !== null ? ttlFor(machine, state)?.event : undefined;
}
