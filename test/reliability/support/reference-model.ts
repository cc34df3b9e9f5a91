/**
 * The independent reference model: what one event does to one stack, written from the
 * "Semantics" section of docs/spec-reference.md (a stack's life, the "Events and how they end"
 * table, tokens, metadata), not from core's code. It imports no decision code from core — only
 * plain types — and reads machines as plain spec data (parseSpec's output), so a bug in core's
 * decisions cannot hide by being replayed through itself.
 *
 * UPGRADE_MACHINE, deferred events, timers and outputs are not modelled: the workloads do not send
 * them (an event the model does not know how to judge throws, rather than being guessed).
 */
import type { ActionSpec, MachineSpec, Scalar, StateSpec } from "@stackseam/core";

export type RefStatus = "PENDING" | "SATISFIED" | "ERROR";

/** A task of the stack's current state, with the fields the spec reference defines. */
export interface RefTask {
  name: string;
  status: RefStatus;
  token: string;
  attempt: number;
  description?: string;
}

/** A stack as the spec reference describes it. */
export interface RefStack {
  id: string;
  machine: string;
  state: string;
  entry: number;
  metadata: Record<string, Scalar>;
  tasks: RefTask[];
}

/** An event as a publisher or the Task Satisfier sent it. */
export interface RefEvent {
  stackId: string;
  /** The idempotency key: the publisher's eventId, else the SQS message id. */
  key: string;
  name: string;
  machine?: string;
  metadata?: Record<string, Scalar>;
  task?: string;
  token?: string;
  description?: string;
}

/** A dispatch the model expects: one task message per task entered or retried. */
export interface RefDispatch {
  task: string;
  attempt: number;
  token: string;
}

/**
 * Each row of the "Events and how they end" table that does not apply an event, with the reason
 * the table gives for it (matched loosely: the table shows examples, not exact templates).
 */
export const RULES = {
  "not-handled": /^state \S+ does not handle \S+/,
  "unknown-event": /^unknown event \S+ for machine \S+/,
  "next-from-outside": /^NEXT is internal/,
  "other-machine": /^stack \S+ runs machine \S+, but this event names machine \S+/,
  "unknown-state": /^stack \S+ is in state \S+, which machine \S+ does not define/,
  "first-event-without-machine": /first event.* must name (a|its) machine/,
  // Not a row of the table: a first event naming a machine that cannot be loaded.
  "machine-unavailable": /./,
  "stale-token": /^stale report: token \S+ belongs to an earlier dispatch of task \S+/,
  "stale-task": /^stale report: \S+ is not a task of state \S+/,
  "stale-no-stack": /^stale report: stack \S+ does not exist/,
  "duplicate-satisfied": /^duplicate report: task \S+ is already satisfied/,
  "duplicate-failed": /^duplicate report: task \S+ has already failed/,
  "nothing-to-retry": /^no (failed|pending) tasks to retry in state \S+/,
  "retry-no-stack": /^stack \S+ does not exist, so there is nothing to retry/,
} as const;

export type Rule = keyof typeof RULES;

export type RefVerdict =
  | {
      outcome: "applied";
      /** The stack after the event; null when it was removed. */
      stack: RefStack | null;
      from: string | null;
      /** The state the stack ends in (the last one entered, or where it was). */
      to: string;
      /** States entered, in order. */
      path: string[];
      dispatch: RefDispatch[];
      removed: boolean;
    }
  | { outcome: "refused" | "ignored"; rule: Rule; from: string | null };

/** Supplies the dispatch token of a new dispatch of `task` (the check feeds the recorded ones). */
export type TokenSource = (task: string) => string;

export const NEXT = "NEXT";
export const INIT = "INIT";
const REPORTS = new Set(["TASK_COMPLETED", "TASK_ERROR"]);
const RETRIES = new Set(["RETRY_FAILED_TASKS", "RETRY_PENDING_TASKS"]);
export const NO_DESCRIPTION = "the task failed without a description";

/** A stack that the event is applied to, as one transition rewrites it. */
interface Work {
  state: string;
  entry: number;
  metadata: Record<string, Scalar>;
  tasks: RefTask[];
  path: string[];
  dispatch: RefDispatch[];
  removed: boolean;
}

function unapplied(outcome: "refused" | "ignored", rule: Rule, from: string | null): RefVerdict {
  return { outcome, rule, from };
}

function stateOf(spec: MachineSpec, name: string): StateSpec | undefined {
  return Object.hasOwn(spec.states, name) ? spec.states[name] : undefined;
}

function handlerOf(state: StateSpec, event: string): readonly ActionSpec[] | undefined {
  const on = state.on ?? {};
  return Object.hasOwn(on, event) ? on[event] : undefined;
}

const hasTasks = (state: StateSpec | undefined) => (state?.tasks ?? []).length > 0;

/**
 * "advance enters the named state: the entry counter increases, the task list is replaced by the
 * state's tasks, all PENDING, attempt 1, each with a fresh dispatch token… Only the tasks of the
 * state the stack ends in are dispatched… Entering a terminal state without tasks removes the
 * stack at once and ends processing."
 */
function applyActions(spec: MachineSpec, work: Work, actions: readonly ActionSpec[], token: TokenSource) {
  let entered: StateSpec | undefined;
  for (const action of actions) {
    if (action.action === "no-op") continue;
    if (action.action !== "advance") throw new Error(`the reference model does not model ${action.action}`);
    const target = stateOf(spec, action.state);
    if (!target) throw new Error(`the spec advances to ${action.state}, which it does not define`);
    work.state = action.state;
    work.entry += 1;
    work.path.push(action.state);
    entered = target;
    if (target.terminal === true && !hasTasks(target)) {
      work.removed = true;
      work.tasks = [];
      return;
    }
  }
  if (!entered) return;
  work.tasks = (entered.tasks ?? []).map((name) => ({
    name,
    status: "PENDING",
    token: token(name),
    attempt: 1,
  }));
  work.dispatch = work.tasks.map((t) => ({ task: t.name, attempt: t.attempt, token: t.token }));
}

function applied(from: string | null, base: RefStack, work: Work): RefVerdict {
  const next: RefStack | null = work.removed
    ? null
    : { ...base, state: work.state, entry: work.entry, metadata: work.metadata, tasks: work.tasks };
  return {
    outcome: "applied",
    stack: next,
    from,
    to: work.state,
    path: work.path,
    dispatch: work.removed ? [] : work.dispatch,
    removed: work.removed,
  };
}

function startWork(stack: RefStack, metadata?: Record<string, Scalar>): Work {
  return {
    state: stack.state,
    entry: stack.entry,
    // "Metadata from an event merges (shallow, the event's values win)".
    metadata: { ...stack.metadata, ...(metadata ?? {}) },
    tasks: stack.tasks.map((t) => ({ ...t })),
    path: [],
    dispatch: [],
    removed: false,
  };
}

/** A declared event: refused unless the current state handles it; else metadata merges and the actions apply. */
function declaredEvent(
  spec: MachineSpec,
  stack: RefStack,
  from: string | null,
  event: RefEvent,
  token: TokenSource,
): RefVerdict {
  if (!spec.events.includes(event.name)) return unapplied("refused", "unknown-event", from);
  const state = stateOf(spec, stack.state);
  const actions = state ? handlerOf(state, event.name) : undefined;
  if (!actions) return unapplied("refused", "not-handled", from);
  const work = startWork(stack, event.metadata);
  applyActions(spec, work, actions, token);
  return applied(from, stack, work);
}

/** The task a report names, or why the report does not count. */
function reportedTask(stack: RefStack, event: RefEvent): RefTask | Rule {
  const task = stack.tasks.find((t) => t.name === event.task);
  if (!task) return "stale-task";
  if (task.token !== event.token) return "stale-token";
  return task;
}

/**
 * "TASK_COMPLETED, current token, task PENDING or ERROR: task SATISFIED; NEXT / removal when all
 * are satisfied." A report never merges metadata.
 */
function completed(spec: MachineSpec, stack: RefStack, event: RefEvent, token: TokenSource): RefVerdict {
  const found = reportedTask(stack, event);
  if (typeof found === "string") return unapplied("ignored", found, stack.state);
  if (found.status === "SATISFIED") return unapplied("ignored", "duplicate-satisfied", stack.state);
  const work = startWork(stack);
  work.tasks = work.tasks.map((t) => {
    if (t.name !== found.name) return t;
    const { description: _, ...rest } = t;
    return { ...rest, status: "SATISFIED" };
  });
  if (work.tasks.some((t) => t.status !== "SATISFIED")) return applied(stack.state, stack, work);
  const state = stateOf(spec, stack.state) as StateSpec;
  if (state.terminal === true) {
    // "a terminal state removes the stack".
    work.removed = true;
    return applied(stack.state, stack, work);
  }
  // "a non-terminal state fires NEXT (its handler's actions apply as above…)"; a NEXT made only of
  // no-op "leaves the stack in place with its tasks satisfied".
  applyActions(spec, work, handlerOf(state, NEXT) ?? [], token);
  return applied(stack.state, stack, work);
}

/** "TASK_ERROR, current token, task PENDING: task ERROR with the description; the stack waits." */
function failed(stack: RefStack, event: RefEvent): RefVerdict {
  const found = reportedTask(stack, event);
  if (typeof found === "string") return unapplied("ignored", found, stack.state);
  if (found.status === "ERROR") return unapplied("ignored", "duplicate-failed", stack.state);
  if (found.status === "SATISFIED") return unapplied("ignored", "duplicate-satisfied", stack.state);
  const work = startWork(stack);
  const description = event.description ?? NO_DESCRIPTION;
  work.tasks = work.tasks.map((t) => (t.name === found.name ? { ...t, status: "ERROR", description } : t));
  return applied(stack.state, stack, work);
}

/** RETRY_FAILED_TASKS / RETRY_PENDING_TASKS: every task in that status again, attempt + 1, new token. */
function retried(stack: RefStack, event: RefEvent, token: TokenSource): RefVerdict {
  const status: RefStatus = event.name === "RETRY_FAILED_TASKS" ? "ERROR" : "PENDING";
  if (!stack.tasks.some((t) => t.status === status))
    return unapplied("ignored", "nothing-to-retry", stack.state);
  const work = startWork(stack, event.metadata);
  work.tasks = work.tasks.map((t) => {
    if (t.status !== status) return t;
    const { description: _, ...rest } = t;
    const again: RefTask = { ...rest, status: "PENDING", attempt: t.attempt + 1, token: token(t.name) };
    work.dispatch.push({ task: again.name, attempt: again.attempt, token: again.token });
    return again;
  });
  return applied(stack.state, stack, work);
}

/**
 * What one event does to one stack (null: the stack does not exist), by the spec reference.
 * `machines` finds a machine's spec by name (undefined: it cannot be loaded).
 */
export function decide(
  machines: (name: string) => MachineSpec | undefined,
  stack: RefStack | null,
  event: RefEvent,
  token: TokenSource,
): RefVerdict {
  if (event.name === "UPGRADE_MACHINE" || event.name === "TASK_HEARTBEAT" || event.name === "EXTEND_TTL") {
    throw new Error(`the reference model does not model ${event.name}`);
  }
  const from = stack?.state ?? null;
  if (event.name === NEXT) return unapplied("refused", "next-from-outside", from);
  if (stack === null) {
    if (REPORTS.has(event.name)) return unapplied("ignored", "stale-no-stack", null);
    if (RETRIES.has(event.name)) return unapplied("refused", "retry-no-stack", null);
    if (event.machine === undefined) return unapplied("refused", "first-event-without-machine", null);
    const spec = machines(event.machine);
    if (!spec) return unapplied("refused", "machine-unavailable", null);
    // "The stack starts in INIT (entry 0, no tasks, empty metadata) and the event is then handled
    // by INIT like any other event. If INIT refuses it, nothing is stored but the history row."
    const fresh: RefStack = {
      id: event.stackId,
      machine: event.machine,
      state: INIT,
      entry: 0,
      metadata: {},
      tasks: [],
    };
    return declaredEvent(spec, fresh, null, event, token);
  }
  if (event.machine !== undefined && event.machine !== stack.machine) {
    return unapplied("refused", "other-machine", from);
  }
  const spec = machines(stack.machine);
  if (!spec || !stateOf(spec, stack.state)) return unapplied("refused", "unknown-state", from);
  if (event.name === "TASK_COMPLETED") return completed(spec, stack, event, token);
  if (event.name === "TASK_ERROR") return failed(stack, event);
  if (RETRIES.has(event.name)) return retried(stack, event, token);
  return declaredEvent(spec, stack, from, event, token);
}

/** Whether an event name is a task report. */
export const isReport = (name: string) => REPORTS.has(name);

/**
 * The event a harness-published body stands for. The harness publishes only valid messages, so
 * this reads them directly (the legacy `action` names the event when `event` is absent).
 */
export function refEventOf(body: string, messageId: string): RefEvent {
  const m = JSON.parse(body) as Record<string, unknown>;
  const name = (m.event ?? m.action) as string;
  const event: RefEvent = {
    stackId: m.stackId as string,
    key: typeof m.eventId === "string" ? m.eventId : messageId,
    name,
  };
  if (typeof m.machine === "string") event.machine = m.machine;
  if (m.metadata !== undefined) event.metadata = m.metadata as Record<string, Scalar>;
  if (typeof m.task === "string") event.task = m.task;
  if (typeof m.token === "string") event.token = m.token;
  if (typeof m.description === "string") event.description = m.description;
  return event;
}
