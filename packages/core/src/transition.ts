import type { ActionSpec, StateSpec } from "./generated/machine-spec.js";
import type { Machine } from "./machine.js";
import {
  type Deps,
  type Dispatch,
  type EngineEvent,
  INIT,
  type Metadata,
  NEXT,
  type Stack,
  type StackTask,
  type TransitionResult,
} from "./model.js";
import { newStack } from "./stack.js";

/** The stack as it is being rewritten by one transition. */
interface Draft {
  state: string;
  entry: number;
  tasks: StackTask[];
  metadata: Metadata;
  path: string[];
  dispatch: Dispatch[];
  removed: boolean;
  note?: string;
}

/** Applies one event to a stack (null: the stack does not exist yet). Pure: time and tokens come from deps. */
export function transition(
  machine: Machine,
  stack: Stack | null,
  event: EngineEvent,
  deps: Deps,
): TransitionResult {
  // One instant per transition: a new stack's createdAt equals its updatedAt.
  const now = deps.now();
  return apply(machine, stack, event, { now: () => now, newToken: () => deps.newToken() });
}

function apply(machine: Machine, stack: Stack | null, event: EngineEvent, deps: Deps): TransitionResult {
  const from = stack?.state ?? null;
  if (event.name === NEXT) {
    return refused(
      from,
      "NEXT is internal: the engine fires it when every task of a state is satisfied, so it cannot be sent from outside",
    );
  }
  if (stack === null) return startStack(machine, event, deps);

  if (event.machine !== undefined && event.machine !== stack.machine) {
    return refused(
      from,
      `stack ${stack.id} runs machine ${stack.machine}, but this event names machine ${event.machine}`,
    );
  }
  if (machine.name !== stack.machine) {
    return refused(from, `stack ${stack.id} runs machine ${stack.machine}, not ${machine.name}`);
  }
  const state = machine.states.get(stack.state);
  if (!state) {
    return refused(
      from,
      `stack ${stack.id} is in state ${stack.state}, which machine ${machine.name} does not define`,
    );
  }

  switch (event.name) {
    case "TASK_COMPLETED":
      return completeTask(machine, stack, state, event, deps);
    case "TASK_ERROR":
      return failTask(stack, event, deps);
    case "RETRY_FAILED_TASKS":
      return retry(stack, event, deps, "ERROR");
    case "RETRY_PENDING_TASKS":
      return retry(stack, event, deps, "PENDING");
    default:
      return handleEvent(machine, stack, state, event, deps, from);
  }
}

function startStack(machine: Machine, event: EngineEvent, deps: Deps): TransitionResult {
  const id = event.stackId ?? "(unknown)";
  if (event.name === "TASK_COMPLETED" || event.name === "TASK_ERROR") {
    return ignored(null, `stale report: stack ${id} does not exist (it may have been removed)`);
  }
  if (event.name === "RETRY_FAILED_TASKS" || event.name === "RETRY_PENDING_TASKS") {
    return refused(null, `stack ${id} does not exist, so there is nothing to retry`);
  }
  if (event.machine === undefined) return refused(null, "the first event of a stack must name its machine");
  if (event.machine !== machine.name) {
    return refused(
      null,
      `the event names machine ${event.machine}, but machine ${machine.name} was loaded for it`,
    );
  }
  if (event.stackId === undefined)
    return refused(null, "the event does not say which stack it is for (stackId)");
  const init = machine.states.get(INIT);
  if (!init) return refused(null, `machine ${machine.name} has no INIT state`);
  return handleEvent(machine, newStack(event.stackId, machine, deps), init, event, deps, null);
}

function handleEvent(
  machine: Machine,
  stack: Stack,
  state: StateSpec,
  event: EngineEvent,
  deps: Deps,
  from: string | null,
): TransitionResult {
  if (!machine.events.has(event.name)) {
    return refused(
      from,
      `unknown event ${event.name} for machine ${machine.name} (events: ${names([...machine.events])})`,
    );
  }
  const actions =
    state.on !== undefined && Object.hasOwn(state.on, event.name) ? state.on[event.name] : undefined;
  if (actions === undefined) {
    const handled = Object.keys(state.on ?? {}).filter((name) => name !== NEXT);
    const handles = handled.length === 0 ? "it handles no events" : `it handles: ${handled.join(", ")}`;
    return refused(from, `state ${stack.state} does not handle ${event.name} (${handles})`);
  }
  const draft = startDraft(stack, event);
  const problem = applyActions(machine, draft, actions, deps);
  if (problem) return refused(from, problem);
  return applied(stack, from, draft, deps);
}

function completeTask(
  machine: Machine,
  stack: Stack,
  state: StateSpec,
  event: EngineEvent,
  deps: Deps,
): TransitionResult {
  const found = currentTask(stack, event);
  if ("result" in found) return found.result;
  const { task } = found;
  if (task.status === "SATISFIED") {
    return ignored(stack.state, `duplicate report: task ${task.name} is already satisfied`);
  }
  const draft = startDraft(stack);
  draft.tasks = draft.tasks.map((t) =>
    t.name === task.name ? withoutDescription({ ...t, status: "SATISFIED" }) : t,
  );
  const done = draft.tasks.filter((t) => t.status === "SATISFIED").length;
  if (done < draft.tasks.length) {
    draft.note = `task ${task.name} satisfied (${done} of ${draft.tasks.length})`;
    return applied(stack, stack.state, draft, deps);
  }
  const all = `all ${draft.tasks.length} task${draft.tasks.length === 1 ? "" : "s"} of ${stack.state} satisfied`;
  if (state.terminal === true) {
    draft.removed = true;
    draft.note = `${all}: terminal state, stack removed`;
    return applied(stack, stack.state, draft, deps);
  }
  const next = state.on !== undefined && Object.hasOwn(state.on, NEXT) ? state.on[NEXT] : undefined;
  if (next === undefined) {
    // A valid spec always has NEXT here; without it the stack simply stays, satisfied.
    draft.note = `${all}, but ${stack.state} has no NEXT handler`;
    return applied(stack, stack.state, draft, deps);
  }
  draft.note = `NEXT fired: ${all}`;
  const problem = applyActions(machine, draft, next, deps);
  if (problem) return refused(stack.state, problem);
  return applied(stack, stack.state, draft, deps);
}

function failTask(stack: Stack, event: EngineEvent, deps: Deps): TransitionResult {
  const found = currentTask(stack, event);
  if ("result" in found) return found.result;
  const { task } = found;
  if (task.status !== "PENDING") {
    const already = task.status === "ERROR" ? "has already failed" : "is already satisfied";
    return ignored(stack.state, `duplicate report: task ${task.name} ${already}`);
  }
  const draft = startDraft(stack);
  const description = event.description ?? "the task failed without a description";
  draft.tasks = draft.tasks.map((t) => (t.name === task.name ? { ...t, status: "ERROR", description } : t));
  draft.note = `task ${task.name} failed (attempt ${task.attempt}); the stack waits for RETRY_FAILED_TASKS or another event`;
  return applied(stack, stack.state, draft, deps);
}

function retry(stack: Stack, event: EngineEvent, deps: Deps, status: "ERROR" | "PENDING"): TransitionResult {
  const which = status === "ERROR" ? "failed" : "pending";
  if (!stack.tasks.some((t) => t.status === status)) {
    return ignored(stack.state, `no ${which} tasks to retry in state ${stack.state}`);
  }
  const draft = startDraft(stack, event);
  draft.tasks = draft.tasks.map((t) => {
    if (t.status !== status) return t;
    const again = withoutDescription({
      ...t,
      status: "PENDING",
      attempt: t.attempt + 1,
      token: deps.newToken(),
    });
    draft.dispatch.push({ task: again.name, token: again.token, attempt: again.attempt });
    return again;
  });
  draft.note = `re-sent ${draft.dispatch.length} ${which} task${draft.dispatch.length === 1 ? "" : "s"}`;
  return applied(stack, stack.state, draft, deps);
}

/** The task a report is about, or why the report does not count. */
type Lookup = { task: StackTask } | { result: TransitionResult };

function currentTask(stack: Stack, event: EngineEvent): Lookup {
  const fail = (result: TransitionResult): Lookup => ({ result });
  if (event.task === undefined || event.token === undefined) {
    return fail(refused(stack.state, `a ${event.name} report must name its task and dispatch token`));
  }
  const task = stack.tasks.find((t) => t.name === event.task);
  if (!task) {
    return fail(
      ignored(
        stack.state,
        `stale report: ${event.task} is not a task of state ${stack.state} (the stack has moved on)`,
      ),
    );
  }
  if (task.token !== event.token) {
    return fail(
      ignored(
        stack.state,
        `stale report: token ${event.token} belongs to an earlier dispatch of task ${task.name} (current attempt: ${task.attempt})`,
      ),
    );
  }
  return { task };
}

/**
 * Applies actions in order. Only the final state's tasks are dispatched: a state left within the
 * same transition never ran. Entering a terminal state without tasks removes the stack and ends
 * processing. Returns a reason when the machine itself is inconsistent.
 */
function applyActions(
  machine: Machine,
  draft: Draft,
  actions: readonly ActionSpec[],
  deps: Deps,
): string | undefined {
  let entered: StateSpec | undefined;
  for (const action of actions) {
    if (action.action !== "advance") continue;
    const target = machine.states.get(action.state);
    if (!target) return `machine ${machine.name} advances to ${action.state}, which it does not define`;
    entered = target;
    draft.state = action.state;
    draft.entry += 1;
    draft.path.push(action.state);
    if (target.terminal === true && (target.tasks ?? []).length === 0) {
      draft.removed = true;
      draft.tasks = [];
      return undefined;
    }
  }
  if (!entered) return undefined;
  draft.tasks = (entered.tasks ?? []).map((name) => ({
    name,
    status: "PENDING",
    token: deps.newToken(),
    attempt: 1,
  }));
  draft.dispatch = draft.tasks.map((t) => ({ task: t.name, token: t.token, attempt: t.attempt }));
  return undefined;
}

function startDraft(stack: Stack, event?: EngineEvent): Draft {
  return {
    state: stack.state,
    entry: stack.entry,
    tasks: stack.tasks.map((t) => ({ ...t })),
    // Reports never carry the publisher's inputs, so only user events and retries merge metadata.
    metadata: { ...stack.metadata, ...(event?.metadata ?? {}) },
    path: [],
    dispatch: [],
    removed: false,
  };
}

function applied(stack: Stack, from: string | null, draft: Draft, deps: Deps): TransitionResult {
  const next: Stack | null = draft.removed
    ? null
    : {
        ...stack,
        state: draft.state,
        entry: draft.entry,
        tasks: draft.tasks,
        metadata: draft.metadata,
        updatedAt: deps.now().toISOString(),
      };
  const result: TransitionResult = {
    outcome: "applied",
    stack: next,
    from,
    to: draft.state,
    path: draft.path,
    dispatch: draft.removed ? [] : draft.dispatch,
    removed: draft.removed,
  };
  if (draft.note !== undefined) result.note = draft.note;
  else if (draft.removed) result.note = `entered terminal state ${draft.state} without tasks: stack removed`;
  return result;
}

function withoutDescription(task: StackTask): StackTask {
  const { description: _, ...rest } = task;
  return rest;
}

function refused(from: string | null, reason: string): TransitionResult {
  return { outcome: "refused", reason, from };
}

function ignored(from: string | null, reason: string): TransitionResult {
  return { outcome: "ignored", reason, from };
}

function names(list: readonly string[]): string {
  return list.length === 0 ? "none" : list.join(", ");
}
