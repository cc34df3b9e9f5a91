/**
 * The independent reference model: what one event does to one stack, written from the
 * "Semantics" section of docs/spec-reference.md (a stack's life, the "Events and how they end"
 * table, tokens, metadata), not from core's code. It imports no decision code from core — only
 * plain types — and reads machines as plain spec data (parseSpec's output), so a bug in core's
 * decisions cannot hide by being replayed through itself.
 *
 * Time is modelled as the "Time" section describes task timeouts and retries ("Timers",
 * "Timeouts and heartbeats", "Retries"): the model decides which timer a stack has and what firing
 * it does; only the instants come from the run (the deadline a task message carries, the retry
 * time history records), as the dispatch tokens do.
 *
 * UPGRADE_MACHINE, heartbeats, the TTL, schedules, deferred events and outputs are not modelled:
 * the workloads do not send or declare them (an event the model does not know how to judge
 * throws, rather than being guessed).
 */
import type { ActionSpec, MachineSpec, Scalar, StateSpec, TaskSpec } from "@stackseam/core";

export type RefStatus = "PENDING" | "SATISFIED" | "ERROR";

/** A task of the stack's current state, with the fields the spec reference defines. */
export interface RefTask {
  name: string;
  status: RefStatus;
  token: string;
  attempt: number;
  description?: string;
  /** While PENDING with a timeout: when the attempt times out (its task message's `deadline`). */
  deadline?: string;
  /** While ERROR with a retry scheduled: when the `retry:<task>` timer dispatches the next attempt. */
  retryAt?: string;
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

/** A failed attempt (a TASK_ERROR, or a timeout) as the model expects history to describe it. */
export interface RefFailure {
  task: string;
  kind: "error" | "timeout";
  attempt: number;
  /** Attempts the task's retry policy allows in all (undefined: it has none). */
  of?: number;
  /** The backoff before the next attempt; undefined when the stack waits for a person instead. */
  retryInMs?: number;
}

/**
 * The instants a decision needs, which the model does not invent: the `deadline` the task message
 * of a dispatch carries ("The task message carries it"), and the retry time the failure's history
 * row holds (`detail.retryAt`). The model says whether there is one; the run says when.
 */
export interface RefClock {
  deadline(token: string): string | undefined;
  retryAt(): string | undefined;
}

/** The clock of a judgement that has no run to read instants from. */
export const NO_CLOCK: RefClock = { deadline: () => undefined, retryAt: () => undefined };

/** What a timeout's description says about how long the attempt ran (the model cannot know). */
export const RAN = "<ran>";

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
  "timer-not-set": /^timer \S+ \(due \S+\) is no longer set/,
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
      failure?: RefFailure;
    }
  | { outcome: "refused" | "ignored"; rule: Rule; from: string | null };

/** Supplies the dispatch token of a new dispatch of `task` (the check feeds the recorded ones). */
export type TokenSource = (task: string) => string;

export const NEXT = "NEXT";
export const INIT = "INIT";
const REPORTS = new Set(["TASK_COMPLETED", "TASK_ERROR"]);
const RETRIES = new Set(["RETRY_FAILED_TASKS", "RETRY_PENDING_TASKS"]);
export const TIMER = "TIMER";
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
  failure?: RefFailure;
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

const taskSpecOf = (spec: MachineSpec, name: string): TaskSpec | undefined =>
  spec.tasks && Object.hasOwn(spec.tasks, name) ? spec.tasks[name] : undefined;

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** "Whole numbers with a unit (d, h, m, s, ms), largest unit first": `1h30m` in milliseconds. */
export function durationMs(text: string): number {
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|d|h|m|s)/g)) ms += Number(n) * (UNIT_MS[unit ?? ""] ?? 0);
  return ms;
}

/** A duration as the spec reference writes one (`1h30m`, largest unit first; `0s` for none). */
export function durationText(ms: number): string {
  let left = ms;
  let out = "";
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(left / size);
    if (n === 0) continue;
    out += `${n}${unit}`;
    left -= n * size;
  }
  return out || "0s";
}

/**
 * "The deadline is set when an attempt is dispatched: timeout after the dispatch; with heartbeat,
 * the earlier of that and heartbeat from now": how long after its dispatch an attempt of the task
 * times out (no heartbeats are sent), undefined when it never does.
 */
export function deadlineAfterMs(spec: MachineSpec, task: string): number | undefined {
  const t = taskSpecOf(spec, task);
  const limits = [t?.timeout, t?.heartbeat].filter((d): d is string => d !== undefined).map(durationMs);
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/** A new dispatch of a task: PENDING, its token, and the deadline its task message carries. */
function dispatchOf(
  spec: MachineSpec,
  clock: RefClock,
  name: string,
  attempt: number,
  token: string,
): RefTask {
  const task: RefTask = { name, status: "PENDING", token, attempt };
  if (deadlineAfterMs(spec, name) !== undefined)
    task.deadline = clock.deadline(token) ?? "(the task message carries no deadline)";
  return task;
}

/** The task without what its last attempt left (its failure, deadline and retry time). */
function fresh(task: RefTask): RefTask {
  const { description: _d, deadline: _l, retryAt: _r, ...rest } = task;
  return rest;
}

/**
 * "advance enters the named state: the entry counter increases, the task list is replaced by the
 * state's tasks, all PENDING, attempt 1, each with a fresh dispatch token… Only the tasks of the
 * state the stack ends in are dispatched… Entering a terminal state without tasks removes the
 * stack at once and ends processing."
 */
function applyActions(
  spec: MachineSpec,
  work: Work,
  actions: readonly ActionSpec[],
  token: TokenSource,
  clock: RefClock,
) {
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
  work.tasks = (entered.tasks ?? []).map((name) => dispatchOf(spec, clock, name, 1, token(name)));
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
    ...(work.failure ? { failure: work.failure } : {}),
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
  clock: RefClock,
): RefVerdict {
  if (!spec.events.includes(event.name)) return unapplied("refused", "unknown-event", from);
  const state = stateOf(spec, stack.state);
  const actions = state ? handlerOf(state, event.name) : undefined;
  if (!actions) return unapplied("refused", "not-handled", from);
  const work = startWork(stack, event.metadata);
  applyActions(spec, work, actions, token, clock);
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
function completed(
  spec: MachineSpec,
  stack: RefStack,
  event: RefEvent,
  token: TokenSource,
  clock: RefClock,
): RefVerdict {
  const found = reportedTask(stack, event);
  if (typeof found === "string") return unapplied("ignored", found, stack.state);
  if (found.status === "SATISFIED") return unapplied("ignored", "duplicate-satisfied", stack.state);
  const work = startWork(stack);
  // A late report of a timed-out attempt still carries the current token: the work did finish.
  work.tasks = work.tasks.map((t) => (t.name === found.name ? { ...fresh(t), status: "SATISFIED" } : t));
  if (work.tasks.some((t) => t.status !== "SATISFIED")) return applied(stack.state, stack, work);
  const state = stateOf(spec, stack.state) as StateSpec;
  if (state.terminal === true) {
    // "a terminal state removes the stack".
    work.removed = true;
    return applied(stack.state, stack, work);
  }
  // "a non-terminal state fires NEXT (its handler's actions apply as above…)"; a NEXT made only of
  // no-op "leaves the stack in place with its tasks satisfied".
  applyActions(spec, work, handlerOf(state, NEXT) ?? [], token, clock);
  return applied(stack.state, stack, work);
}

/**
 * "TASK_ERROR, current token, task PENDING: task ERROR with the description; retried after its
 * backoff when its retry allows, else the stack waits."
 */
function failed(spec: MachineSpec, stack: RefStack, event: RefEvent, clock: RefClock): RefVerdict {
  const found = reportedTask(stack, event);
  if (typeof found === "string") return unapplied("ignored", found, stack.state);
  if (found.status === "ERROR") return unapplied("ignored", "duplicate-failed", stack.state);
  if (found.status === "SATISFIED") return unapplied("ignored", "duplicate-satisfied", stack.state);
  return failAttempt(spec, stack, found, "error", event.description ?? NO_DESCRIPTION, clock);
}

/**
 * "After attempt n failed (a TASK_ERROR, or a timeout) and the policy covers that kind of failure
 * and has attempts left, the task stays ERROR with a retryAt, and its retry:<task> timer
 * dispatches attempt n+1 … min(maxDelay, delay × backoff^(n−1)) later"; otherwise it stays ERROR
 * and the stack waits. Defaults: delay 10s, backoff 2, maxDelay 10m, on both kinds.
 */
function failAttempt(
  spec: MachineSpec,
  stack: RefStack,
  task: RefTask,
  kind: RefFailure["kind"],
  description: string,
  clock: RefClock,
): RefVerdict {
  const policy = taskSpecOf(spec, task.name)?.retry;
  if (policy?.jitter === "full") throw new Error("the reference model does not model retry jitter");
  const failure: RefFailure = { task: task.name, kind, attempt: task.attempt };
  if (policy) failure.of = policy.attempts;
  if (policy && (policy.on ?? ["error", "timeout"]).includes(kind) && task.attempt < policy.attempts) {
    const delay = durationMs(policy.delay ?? "10s") * (policy.backoff ?? 2) ** (task.attempt - 1);
    failure.retryInMs = Math.min(durationMs(policy.maxDelay ?? "10m"), delay);
  }
  const work = startWork(stack);
  work.tasks = work.tasks.map((t) => {
    if (t.name !== task.name) return t;
    const down: RefTask = { ...fresh(t), status: "ERROR", description };
    if (failure.retryInMs !== undefined) down.retryAt = clock.retryAt() ?? "(no retry time recorded)";
    return down;
  });
  work.failure = failure;
  return applied(stack.state, stack, work);
}

/** The timer a TIMER event fires, read from its key `timer:<name>:<due time>`. */
export function timerOf(key: string): { name: string; dueAt: string } | undefined {
  const m = /^timer:(.+):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/.exec(key);
  return m ? { name: m[1] as string, dueAt: m[2] as string } : undefined;
}

/**
 * TIMER, sent by the tick. `timeout:<task>` is set while the task is PENDING (with the deadline
 * its dispatch carried): firing it fails the attempt as timed out, "as if the satisfier had
 * reported it". `retry:<task>` is set while the task is ERROR with a retry scheduled: firing it
 * dispatches the next attempt with a new token. A timer the stack no longer has (a report came
 * first, a retry was dispatched, the stack moved on) is ignored. Timers merge no metadata.
 */
function fireTimer(
  spec: MachineSpec,
  stack: RefStack,
  event: RefEvent,
  token: TokenSource,
  clock: RefClock,
): RefVerdict {
  const timer = timerOf(event.key);
  if (!timer) throw new Error(`the reference model cannot read the timer of key ${event.key}`);
  const colon = timer.name.indexOf(":");
  const kind = colon < 0 ? timer.name : timer.name.slice(0, colon);
  if (kind !== "timeout" && kind !== "retry")
    throw new Error(`the reference model does not model the ${kind} timer`);
  const task = stack.tasks.find((t) => t.name === timer.name.slice(colon + 1));
  const set =
    kind === "timeout"
      ? task?.status === "PENDING" && task.deadline === timer.dueAt
      : task?.status === "ERROR" && task.retryAt === timer.dueAt;
  if (!task || !set) return unapplied("ignored", "timer-not-set", stack.state);
  if (kind === "timeout") return failAttempt(spec, stack, task, "timeout", timedOut(spec, task.name), clock);
  const work = startWork(stack);
  work.tasks = work.tasks.map((t) => {
    if (t.name !== task.name) return t;
    const again = dispatchOf(spec, clock, t.name, t.attempt + 1, token(t.name));
    work.dispatch.push({ task: again.name, attempt: again.attempt, token: again.token });
    return again;
  });
  return applied(stack.state, stack, work);
}

/**
 * "timed out after <how long it ran> (timeout 45m, heartbeat 2m): no report arrived in time".
 * How long it ran depends on when the tick came, so it stays a placeholder (see RAN).
 */
function timedOut(spec: MachineSpec, task: string): string {
  const t = taskSpecOf(spec, task);
  const limits = [t?.timeout && `timeout ${t.timeout}`, t?.heartbeat && `heartbeat ${t.heartbeat}`];
  return `timed out after ${RAN} (${limits.filter(Boolean).join(", ")}): no report arrived in time`;
}

/** RETRY_FAILED_TASKS / RETRY_PENDING_TASKS: every task in that status again, attempt + 1, new token. */
function retried(
  spec: MachineSpec,
  stack: RefStack,
  event: RefEvent,
  token: TokenSource,
  clock: RefClock,
): RefVerdict {
  const status: RefStatus = event.name === "RETRY_FAILED_TASKS" ? "ERROR" : "PENDING";
  if (!stack.tasks.some((t) => t.status === status))
    return unapplied("ignored", "nothing-to-retry", stack.state);
  const work = startWork(stack, event.metadata);
  work.tasks = work.tasks.map((t) => {
    if (t.status !== status) return t;
    const again = dispatchOf(spec, clock, t.name, t.attempt + 1, token(t.name));
    work.dispatch.push({ task: again.name, attempt: again.attempt, token: again.token });
    return again;
  });
  return applied(stack.state, stack, work);
}

/**
 * What one event does to one stack (null: the stack does not exist), by the spec reference.
 * `machines` finds a machine's spec by name (undefined: it cannot be loaded); `clock` gives the
 * instants of the run (see RefClock).
 */
export function decide(
  machines: (name: string) => MachineSpec | undefined,
  stack: RefStack | null,
  event: RefEvent,
  token: TokenSource,
  clock: RefClock = NO_CLOCK,
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
    const created: RefStack = {
      id: event.stackId,
      machine: event.machine,
      state: INIT,
      entry: 0,
      metadata: {},
      tasks: [],
    };
    return declaredEvent(spec, created, null, event, token, clock);
  }
  if (event.machine !== undefined && event.machine !== stack.machine) {
    return unapplied("refused", "other-machine", from);
  }
  const spec = machines(stack.machine);
  if (!spec || !stateOf(spec, stack.state)) return unapplied("refused", "unknown-state", from);
  if (event.name === "TASK_COMPLETED") return completed(spec, stack, event, token, clock);
  if (event.name === "TASK_ERROR") return failed(spec, stack, event, clock);
  if (RETRIES.has(event.name)) return retried(spec, stack, event, token, clock);
  if (event.name === TIMER) return fireTimer(spec, stack, event, token, clock);
  return declaredEvent(spec, stack, from, event, token, clock);
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
