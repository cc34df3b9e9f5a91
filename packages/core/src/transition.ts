import { type Decision, ignored, type MachineRef, refused } from "./decision.js";
import { deferEvent, handlerOf, isDefer } from "./deferred.js";
import { applyActions, startDraft } from "./draft.js";
import { type Context, finish } from "./finish.js";
import { extendTtl, fireTimer } from "./fire-timer.js";
import type { StateSpec } from "./generated/machine-spec.js";
import type { Machine } from "./machine.js";
import { metadataGrowthProblem } from "./metadata.js";
import { type Deps, type EngineEvent, INIT, isReportEvent, NEXT, type Stack } from "./model.js";
import { notificationsFor } from "./notifications.js";
import { completeTask, failTask, heartbeat, retryTasks } from "./reports.js";
import { newStack } from "./stack.js";
import { closest } from "./suggest.js";
import { upgradeStack } from "./upgrade.js";

/** What a transition may know beyond the stack's own machine. */
export interface TransitionOptions {
  /** The machine's newest version, for UPGRADE_MACHINE and `upgrade: on-state-entry`. */
  latest?: Machine;
}

const NEXT_IS_INTERNAL =
  "NEXT is internal: the engine fires it when every task of a state is satisfied, so it cannot be sent from outside";

/**
 * Decides the first event of a stack that does not exist. `machine` is the machine the event
 * names, as the State Manager could load it (null: the event names none). Pure.
 */
export function initialTransition(
  machine: MachineRef<Machine> | null,
  event: EngineEvent,
  deps: Deps,
): Decision {
  const decision = decideFirst(machine, event, deps);
  return machine?.ok ? notified(machine.machine, null, event, decision, deps) : decision;
}

function decideFirst(machine: MachineRef<Machine> | null, event: EngineEvent, deps: Deps): Decision {
  const id = event.stackId ?? "(unknown)";
  if (event.name === NEXT) return refused(event, null, NEXT_IS_INTERNAL);
  if (isReportEvent(event.name)) {
    return ignored(event, null, `stale report: stack ${id} does not exist (it may have been removed)`);
  }
  if (event.name === "RETRY_FAILED_TASKS" || event.name === "RETRY_PENDING_TASKS") {
    return refused(event, null, `stack ${id} does not exist, so there is nothing to retry`);
  }
  if (event.machine === undefined || machine === null) {
    return refused(event, null, `stack ${id} does not exist, and its first event must name a machine`);
  }
  if (!machine.ok) return refused(event, null, machine.reason);
  const m = machine.machine;
  if (event.machine !== m.name) {
    return refused(
      event,
      null,
      `the event names machine ${event.machine}, but machine ${m.name} was loaded for it`,
    );
  }
  if (event.stackId === undefined) {
    return refused(event, null, "the event does not say which stack it is for (stackId)");
  }
  const init = m.states.get(INIT);
  if (!init) return refused(event, null, `machine ${m.name} has no INIT state`);
  const grows = metadataGrowthProblem({}, event.metadata);
  if (grows) return refused(event, null, grows);
  // One instant per transition: a new stack's createdAt equals its updatedAt.
  const now = deps.now();
  const ctx: Context = { machine: m, event, deps, now };
  return handleEvent(ctx, newStack(event.stackId, m, { now: () => now }), init, null);
}

/**
 * Decides one event for an existing stack by the machine it runs (or why that machine cannot be
 * loaded). Pure: time and tokens come from `deps`, so the same inputs give the same decision.
 */
export function transition(
  machine: MachineRef<Machine>,
  stack: Stack,
  event: EngineEvent,
  deps: Deps,
  opts: TransitionOptions = {},
): Decision {
  const decision = decide(machine, stack, event, deps, opts);
  // Told by the version the stack runs after the event (a new one after an upgrade).
  const version = (decision.outcome === "applied" ? decision.stack?.version : undefined) ?? stack.version;
  const by =
    opts.latest && opts.latest.version === version ? opts.latest : machine.ok ? machine.machine : undefined;
  return by ? notified(by, stack, event, decision, deps) : decision;
}

/** The decision with the notifications its machine asks for. */
function notified(
  machine: Machine,
  before: Stack | null,
  event: EngineEvent,
  decision: Decision,
  deps: Deps,
): Decision {
  if (!machine.spec.notifications?.length) return decision;
  const at =
    decision.outcome === "applied" && decision.stack ? decision.stack.updatedAt : deps.now().toISOString();
  const notifications = notificationsFor(machine, before, event, decision, at);
  if (notifications.length > 0) decision.notifications = notifications;
  return decision;
}

function decide(
  machine: MachineRef<Machine>,
  stack: Stack,
  event: EngineEvent,
  deps: Deps,
  opts: TransitionOptions,
): Decision {
  const from = stack.state;
  if (event.name === NEXT) return refused(event, from, NEXT_IS_INTERNAL);
  if (event.machine !== undefined && event.machine !== stack.machine) {
    return refused(
      event,
      from,
      `stack ${stack.id} runs machine ${stack.machine}, but this event names machine ${event.machine}`,
    );
  }
  // An upgrade needs only the new version: it is how a stack leaves a version that cannot load.
  if (event.name === "UPGRADE_MACHINE")
    return upgradeStack({ event, deps, now: deps.now() }, stack, opts.latest);
  if (!machine.ok) return refused(event, from, machine.reason);
  const m = machine.machine;
  if (m.name !== stack.machine) {
    return refused(event, from, `stack ${stack.id} runs machine ${stack.machine}, not ${m.name}`);
  }
  const state = m.states.get(stack.state);
  if (!state) {
    return refused(
      event,
      from,
      `stack ${stack.id} is in state ${stack.state}, which machine ${m.name} does not define`,
    );
  }
  const grows = mergesMetadata(event) ? metadataGrowthProblem(stack.metadata, event.metadata) : undefined;
  if (grows) return refused(event, from, grows);
  const ctx: Context = { machine: m, event, deps, now: deps.now() };
  if (opts.latest) ctx.latest = opts.latest;
  switch (event.name) {
    case "TASK_COMPLETED":
      return completeTask(ctx, stack, state);
    case "TASK_ERROR":
      return failTask(ctx, stack);
    case "TASK_HEARTBEAT":
      return heartbeat(ctx, stack);
    case "TIMER":
      return fireTimer(ctx, stack, state);
    case "EXTEND_TTL":
      return extendTtl(ctx, stack);
    case "RETRY_FAILED_TASKS":
      return retryTasks(ctx, stack, "ERROR");
    case "RETRY_PENDING_TASKS":
      return retryTasks(ctx, stack, "PENDING");
    default:
      return handleEvent(ctx, stack, state, from);
  }
}

/** A declared event: refused unless the state handles it; else its actions apply in order. */
function handleEvent(ctx: Context, stack: Stack, state: StateSpec, from: string | null): Decision {
  const { machine, event } = ctx;
  if (!machine.events.has(event.name)) {
    const hint = closest(event.name, machine.events);
    return refused(
      event,
      from,
      `unknown event ${event.name} for machine ${machine.name} (events: ${names([...machine.events])})${hint ? `; did you mean ${hint}?` : ""}`,
    );
  }
  const actions = handlerOf(state, event.name);
  if (isDefer(actions)) return defer(ctx, stack, from);
  if (actions === undefined) {
    const handled = Object.keys(state.on ?? {}).filter((name) => name !== NEXT);
    const handles = handled.length === 0 ? "it handles no events" : `it handles: ${handled.join(", ")}`;
    return refused(event, from, `state ${stack.state} does not handle ${event.name} (${handles})`);
  }
  const draft = startDraft(stack, event);
  // A schedule's event is the system's, like a timer: it must not keep a stack alive, or a nightly
  // FREEZE would defeat an idle TTL.
  if (event.scheduled) {
    draft.active = false;
    draft.note = `sent by schedule ${event.scheduled.name} (occurrence ${event.scheduled.occurrence})`;
  }
  const problem = applyActions(machine, draft, actions, ctx.deps);
  if (problem) return refused(event, from, problem);
  return finish(ctx, stack, from, draft);
}

/** The state keeps the event for a later state (its metadata merges when it is applied). */
function defer(ctx: Context, stack: Stack, from: string | null): Decision {
  const { event } = ctx;
  if (stack.deferred?.some((d) => d.key === event.key)) {
    return ignored(event, from, `${event.name} (key ${event.key}) is already deferred`);
  }
  const draft = startDraft(stack);
  draft.active = true;
  const deferred = deferEvent(stack, event, ctx.now.toISOString());
  draft.patch.deferred = deferred;
  draft.note = `${event.name} deferred in ${stack.state}: it is offered again when the stack enters another state (${deferred.length} kept)`;
  return finish(ctx, stack, from, draft);
}

/** Reports and timers carry no inputs of the publisher's: only other events merge metadata. */
function mergesMetadata(event: EngineEvent): boolean {
  return !isReportEvent(event.name) && event.name !== "TIMER";
}

function names(list: readonly string[]): string {
  return list.length === 0 ? "none" : list.join(", ");
}
