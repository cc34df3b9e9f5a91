import type { ActionSpec, StateSpec } from "./generated/machine-spec.js";
import type { Machine } from "./machine.js";
import type { Stack } from "./model.js";

/** What a change is about. */
export const DIFF_SUBJECTS = ["machine", "event", "state", "task", "transition"] as const;
export type DiffSubject = (typeof DIFF_SUBJECTS)[number];

export const DIFF_KINDS = ["added", "removed", "changed"] as const;
export type DiffKind = (typeof DIFF_KINDS)[number];

/** One semantic change between two versions of a machine. */
export interface MachineChange {
  subject: DiffSubject;
  change: DiffKind;
  /** The event, state or task name; a machine key (`upgrade`); a transition's `STATE on EVENT`. */
  name: string;
  /** Transitions: the state whose handler changed. Events: unused (see `states`). */
  state?: string;
  /** Transitions: the event (or NEXT) the handler is for. */
  event?: string;
  /** Events: the states that handle the event (in the old version when removed, else the new). */
  states?: string[];
  /** What changed, for people: `before → after`, or the handler's actions. */
  detail?: string;
}

/** The semantic change from one version of a machine to another (empty `changes`: same behaviour). */
export interface MachineDiff {
  machine: string;
  from: string;
  to: string;
  changes: MachineChange[];
}

// Top-level keys with their own subject; every other key (upgrade, ttl, schedules…) is "machine".
const STRUCTURE_KEYS = new Set(["version", "events", "states", "tasks"]);
// Past this many, a changed task's detail says how many more keys changed instead of naming them.
const MAX_PATHS = 4;

/**
 * What changes, state by state, event by event, task by task and handler by handler, when stacks
 * of `from` run `to` instead. Handlers (transitions) are compared in states both versions have: a
 * state added or removed is one change, not one per handler.
 */
export function diffMachines(from: Machine, to: Machine): MachineDiff {
  const changes: MachineChange[] = [
    ...machineKeyChanges(from, to),
    ...eventChanges(from, to),
    ...stateChanges(from, to),
    ...taskChanges(from, to),
    ...transitionChanges(from, to),
  ];
  return { machine: to.name, from: from.version, to: to.version, changes };
}

/**
 * Whether a change touches a live stack (which runs some version of the machine): it is in the
 * state the change is about, holds the task, or is in a state that handles the event. Machine-wide
 * settings touch every stack; additions of states and tasks touch none (nothing runs them yet).
 */
export function changeAffects(change: MachineChange, stack: Pick<Stack, "state" | "tasks">): boolean {
  if (change.subject === "machine") return true;
  if (change.subject === "state") return change.change !== "added" && stack.state === change.name;
  if (change.subject === "transition") return stack.state === change.state;
  if (change.subject === "task")
    return change.change !== "added" && stack.tasks.some((t) => t.name === change.name);
  return (change.states ?? []).includes(stack.state);
}

/** The keys of both, the first's order first. */
function union(a: Iterable<string>, b: Iterable<string>): string[] {
  return [...new Set([...a, ...b])];
}

function machineKeyChanges(from: Machine, to: Machine): MachineChange[] {
  const a = from.spec as unknown as Record<string, unknown>;
  const b = to.spec as unknown as Record<string, unknown>;
  const keys = union(Object.keys(a), Object.keys(b)).filter(
    (k) => !STRUCTURE_KEYS.has(k) && !k.startsWith("x-"),
  );
  const changes: MachineChange[] = [];
  for (const key of keys) {
    // `upgrade` has a default, so setting it to what it already meant changes nothing.
    const before = key === "upgrade" ? (a[key] ?? "manual") : a[key];
    const after = key === "upgrade" ? (b[key] ?? "manual") : b[key];
    if (sameValue(before, after)) continue;
    const change: DiffKind = before === undefined ? "added" : after === undefined ? "removed" : "changed";
    changes.push({ subject: "machine", change, name: key, detail: `${brief(before)} → ${brief(after)}` });
  }
  return changes;
}

function handlers(machine: Machine, event: string): string[] {
  return [...machine.states]
    .filter(([, state]) => state.on !== undefined && Object.hasOwn(state.on, event))
    .map(([name]) => name);
}

function eventChanges(from: Machine, to: Machine): MachineChange[] {
  const changes: MachineChange[] = [];
  for (const event of union(from.events, to.events)) {
    if (from.events.has(event) && to.events.has(event)) continue;
    const removed = from.events.has(event);
    changes.push({
      subject: "event",
      change: removed ? "removed" : "added",
      name: event,
      states: handlers(removed ? from : to, event),
    });
  }
  return changes;
}

function stateChanges(from: Machine, to: Machine): MachineChange[] {
  const changes: MachineChange[] = [];
  for (const name of union(from.states.keys(), to.states.keys())) {
    const before = from.states.get(name);
    const after = to.states.get(name);
    if (!before || !after) {
      const state = (before ?? after)!;
      changes.push({
        subject: "state",
        change: before ? "removed" : "added",
        name,
        detail: describeState(state),
      });
      continue;
    }
    const parts: string[] = [];
    if ((before.terminal === true) !== (after.terminal === true))
      parts.push(`terminal: ${before.terminal === true} → ${after.terminal === true}`);
    const tasksBefore = before.tasks ?? [];
    const tasksAfter = after.tasks ?? [];
    if (!sameValue(tasksBefore, tasksAfter))
      parts.push(`tasks: [${tasksBefore.join(", ")}] → [${tasksAfter.join(", ")}]`);
    if (parts.length > 0)
      changes.push({ subject: "state", change: "changed", name, detail: parts.join("; ") });
  }
  return changes;
}

function taskChanges(from: Machine, to: Machine): MachineChange[] {
  const changes: MachineChange[] = [];
  for (const name of union(from.tasks.keys(), to.tasks.keys())) {
    const before = from.tasks.get(name);
    const after = to.tasks.get(name);
    if (!before || !after) {
      const task = (before ?? after)!;
      changes.push({ subject: "task", change: before ? "removed" : "added", name, detail: task.executor });
      continue;
    }
    const paths = differingPaths(before, after, "");
    if (paths.length === 0) continue;
    const shown = paths.slice(0, MAX_PATHS).join(", ");
    const more = paths.length > MAX_PATHS ? ` and ${paths.length - MAX_PATHS} more` : "";
    changes.push({ subject: "task", change: "changed", name, detail: `${shown}${more}` });
  }
  return changes;
}

function transitionChanges(from: Machine, to: Machine): MachineChange[] {
  const changes: MachineChange[] = [];
  for (const [state, before] of from.states) {
    const after = to.states.get(state);
    if (!after) continue;
    const on = (s: StateSpec) => s.on ?? {};
    for (const event of union(Object.keys(on(before)), Object.keys(on(after)))) {
      const a = Object.hasOwn(on(before), event) ? on(before)[event] : undefined;
      const b = Object.hasOwn(on(after), event) ? on(after)[event] : undefined;
      if (sameValue(a, b)) continue;
      const change: DiffKind = a === undefined ? "added" : b === undefined ? "removed" : "changed";
      const detail =
        change === "changed" ? `${describeActions(a!)} → ${describeActions(b!)}` : describeActions((a ?? b)!);
      changes.push({ subject: "transition", change, name: `${state} on ${event}`, state, event, detail });
    }
  }
  return changes;
}

/** A handler's actions as people read them: `advance RUN`, `no-op`, `advance A, advance B`. */
export function describeActions(actions: readonly ActionSpec[]): string {
  return actions
    .map((a) => {
      const { action, ...rest } = a as { action: string } & Record<string, unknown>;
      if (typeof rest.state === "string") return `${action} ${rest.state}`;
      return Object.keys(rest).length === 0 ? action : `${action} ${brief(rest)}`;
    })
    .join(", ");
}

function describeState(state: StateSpec): string {
  const parts: string[] = [];
  if (state.terminal === true) parts.push("terminal");
  if (state.tasks && state.tasks.length > 0) parts.push(`tasks [${state.tasks.join(", ")}]`);
  const handled = Object.keys(state.on ?? {});
  if (handled.length > 0) parts.push(`handles ${handled.join(", ")}`);
  return parts.join("; ");
}

/** The dotted paths at which two JSON values differ (a whole subtree once one side lacks it). */
function differingPaths(a: unknown, b: unknown, at: string): string[] {
  if (sameValue(a, b)) return [];
  if (isObject(a) && isObject(b)) {
    return union(Object.keys(a), Object.keys(b)).flatMap((k) =>
      differingPaths(a[k], b[k], at ? `${at}.${k}` : k),
    );
  }
  return [at || "(whole value)"];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Deep equality of JSON values; key order does not matter, array order does. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameValue(v, b[i]))
    );
  }
  if (isObject(a) && isObject(b)) {
    const keys = union(Object.keys(a), Object.keys(b));
    return keys.every((k) => sameValue(a[k], b[k]));
  }
  return false;
}

/** A short rendering of a JSON value for a detail column. */
function brief(value: unknown): string {
  if (value === undefined) return "(unset)";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
