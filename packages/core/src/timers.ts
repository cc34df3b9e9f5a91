import { addMs, formatDuration, parseDuration } from "./duration.js";
import type { StateSpec, TtlSpec } from "./generated/machine-spec.js";
import { isoTime } from "./iso-time.js";
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
  // The earlier of the idle and age limits (idle wins a tie); its reason is spelled out only once chosen.
  const idle = ttl.idle ? parseDuration(ttl.idle) : undefined;
  const age = ttl.age ? parseDuration(ttl.age) : undefined;
  const idleAt = idle === undefined ? undefined : Date.parse(stack.activeAt ?? stack.createdAt) + idle;
  const ageAt = age === undefined ? undefined : Date.parse(stack.createdAt) + age;
  let first: { at: number; why: string };
  if (idleAt !== undefined && (ageAt === undefined || !(ageAt < idleAt)))
    first = { at: idleAt, why: `idle for ${ttl.idle}` };
  else if (ageAt !== undefined) first = { at: ageAt, why: `older than ${ttl.age}` };
  else return undefined;
  if (stack.ttl && "until" in stack.ttl) {
    const until = Date.parse(stack.ttl.until);
    if (until > first.at) first = { at: until, why: `kept until ${stack.ttl.until} (EXTEND_TTL)` };
  }
  return { at: isoTime(first.at), why: first.why, ttl };
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
  // By name, insertion-sorted: a handful of timers, for which Array.prototype.sort and a comparator
  // cost more than the comparisons (names are unique per stack).
  for (let i = 1; i < timers.length; i++) {
    const timer = timers[i] as Timer;
    let j = i - 1;
    for (; j >= 0 && (timers[j] as Timer).name > timer.name; j--) timers[j + 1] = timers[j] as Timer;
    timers[j + 1] = timer;
  }
  return timers;
}

/** Whether two timer lists (as timersOf returns them) are the same. */
export function sameTimers(a: readonly Timer[], b: readonly Timer[]): boolean {
  return a.length === b.length && a.every((t, i) => t.name === b[i]?.name && t.dueAt === b[i]?.dueAt);
}

/** The names in `after` whose due time is the same in `before` (both as timersOf returns them). */
export function keptTimers(before: readonly Timer[], after: readonly Timer[]): string[] {
  const kept: string[] = [];
  for (const t of after) if (before.some((b) => b.name === t.name && b.dueAt === t.dueAt)) kept.push(t.name);
  return kept;
}

/** "in 3d (2026-12-03T10:00:00.000Z)" relative to `now`. */
export function describeDue(at: string, now: Date): string {
  const ms = Date.parse(at) - now.getTime();
  return ms > 0 ? `in ${formatDuration(ms)} (${at})` : `now (${at})`;
}
