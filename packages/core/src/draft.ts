import type { ActionSpec, StateSpec } from "./generated/machine-spec.js";
import type { Machine } from "./machine.js";
import { mergeMetadata } from "./metadata.js";
import type { Deps, Dispatch, EngineEvent, Metadata, Stack, StackTask } from "./model.js";

/** Stack fields a transition may set (a value) or clear (null). */
export type StackPatch = {
  [K in "outputs" | "deferred" | "ttl" | "ttlWarnedFor" | "ttlFiredFor"]?: NonNullable<Stack[K]> | null;
};

/** The stack as one transition rewrites it, before it becomes a decision. */
export interface Draft {
  /** The machine version the stack runs after this transition. */
  version: string;
  state: string;
  entry: number;
  tasks: StackTask[];
  metadata: Metadata;
  path: string[];
  dispatch: Dispatch[];
  removed: boolean;
  note?: string;
  patch: StackPatch;
  /** An event from outside was applied (not a report, not a timer): the idle TTL starts again. */
  active: boolean;
}

/**
 * A draft of `stack`. With `event` (a user event, a retry, an upgrade: something from outside) its
 * metadata merges and the stack counts as active; reports and timers pass none.
 */
export function startDraft(stack: Stack, event?: EngineEvent): Draft {
  return {
    version: stack.version,
    state: stack.state,
    entry: stack.entry,
    tasks: stack.tasks.map((t) => ({ ...t })),
    metadata: mergeMetadata(stack.metadata, event?.metadata),
    path: [],
    dispatch: [],
    removed: false,
    patch: {},
    active: event !== undefined,
  };
}

/**
 * Applies actions in order. Only the final state's tasks are dispatched: a state left within the
 * same transition never ran. Entering a terminal state without tasks removes the stack and ends
 * processing. Returns a reason when the machine itself is inconsistent.
 */
export function applyActions(
  machine: Machine,
  draft: Draft,
  actions: readonly ActionSpec[],
  deps: Pick<Deps, "newToken">,
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
  enterTasks(draft, entered, deps);
  return undefined;
}

/** The draft's tasks become `state`'s, all pending on attempt 1 with fresh tokens, each dispatched. */
export function enterTasks(draft: Draft, state: StateSpec, deps: Pick<Deps, "newToken">): void {
  draft.tasks = (state.tasks ?? []).map((name) => ({
    name,
    status: "PENDING",
    token: deps.newToken(),
    attempt: 1,
  }));
  draft.dispatch = draft.tasks.map((t) => ({ task: t.name, token: t.token, attempt: t.attempt }));
}

/** The task without what its last attempt left: the failure's description, deadline and retry time. */
export function withoutDescription(task: StackTask): StackTask {
  const { description: _d, deadline: _l, retryAt: _r, ...rest } = task;
  return rest;
}
