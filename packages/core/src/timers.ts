import { addMs, formatDuration, parseDuration } from "./duration.js";
import type { StateSpec, TtlSpec } from "./generated/machine-spec.js";
import type { Machine } from "./machine.js";
import type { Stack, Timer } from "./model.js";

/** The TTL that applies to a stack in `state`: the state's own, else the machine's when the state handles its event. */
export function ttlFor(machine: Machine, state: string): TtlSpec | undefined {
  const spec: StateSpec | undefined = machine.states.get(state);
  if (!spec) return undefined;
  if (spec.ttl) return spec.ttl;
  const ttl = machine.spec.ttl;
  return ttl && spec.on !== undefined && Object.hasOwn(spec.on, ttl.event) ? ttl : undefined;
}

/** When the stack's TTL fires and why, or undefined when it has none (or it is exempt). */
export function ttlDue(
  machine: Machine,
  stack: Stack,
): { at: string; why: string; ttl: TtlSpec } | undefined {
  if (stack.ttl && "exempt" in stack.ttl) return undefined;
  const ttl = ttlFor(machine, stack.state);
  if (!ttl) return undefined;
  const candidates: { at: number; why: string }[] = [];
  const idle = ttl.idle ? parseDuration(ttl.idle) : undefined;
  const age = ttl.age ? parseDuration(ttl.age) : undefined;
  const activeAt = stack.activeAt ?? stack.createdAt;
  if (idle !== undefined) candidates.push({ at: Date.parse(activeAt) + idle, why: `idle for ${ttl.idle}` });
  if (age !== undefined)
    candidates.push({ at: Date.parse(stack.createdAt) + age, why: `older than ${ttl.age}` });
  if (candidates.length === 0) return undefined;
  let first = candidates.reduce((a, b) => (b.at < a.at ? b : a));
  if (stack.ttl && "until" in stack.ttl) {
    const until = Date.parse(stack.ttl.until);
    if (until > first.at) first = { at: until, why: `kept until ${stack.ttl.until} (EXTEND_TTL)` };
  }
  return { at: new Date(first.at).toISOString(), why: first.why, ttl };
}

/**
 * Every due time of the stack, derived from the stack and its machine, sorted by name: task
 * timeouts and retries, the TTL and its warning (each at most once per due time). The State Manager
 * keeps the `timers` table equal to this; the tick fires what is due.
 */
export function timersOf(machine: Machine, stack: Stack): Timer[] {
  const timers: Timer[] = [];
  for (const task of stack.tasks) {
    if (task.status === "PENDING" && task.deadline)
      timers.push({ name: `timeout:${task.name}`, dueAt: task.deadline });
    if (task.status === "ERROR" && task.retryAt)
      timers.push({ name: `retry:${task.name}`, dueAt: task.retryAt });
  }
  const due = ttlDue(machine, stack);
  if (due && stack.ttlFiredFor !== due.at) {
    timers.push({ name: "ttl", dueAt: due.at });
    const warn = due.ttl.warn ? parseDuration(due.ttl.warn) : undefined;
    if (warn !== undefined && stack.ttlWarnedFor !== due.at) {
      timers.push({ name: "ttl-warning", dueAt: addMs(due.at, -warn) });
    }
  }
  return timers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether two timer lists (as timersOf returns them) are the same. */
export function sameTimers(a: readonly Timer[], b: readonly Timer[]): boolean {
  return a.length === b.length && a.every((t, i) => t.name === b[i]?.name && t.dueAt === b[i]?.dueAt);
}

/** "in 3d (2026-12-03T10:00:00.000Z)" relative to `now`. */
export function describeDue(at: string, now: Date): string {
  const ms = Date.parse(at) - now.getTime();
  return ms > 0 ? `in ${formatDuration(ms)} (${at})` : `now (${at})`;
}
