import { type AppliedDecision, type Decision, eventDetail, type OutboundTask, refused } from "./decision.js";
import { offerDeferred } from "./deferred.js";
import { type Draft, enterTasks, type StackPatch } from "./draft.js";
import { isoTime } from "./iso-time.js";
import type { Machine } from "./machine.js";
import type { Deps, EngineEvent, Stack, StackTask } from "./model.js";
import { buildTaskMessage } from "./task-message.js";
import { attemptDeadline } from "./task-timing.js";
import { keptTimers, sameTimers, timersOf } from "./timers.js";
import { upgradesOnEntry } from "./upgrade.js";

/** What one event is decided against: the stack (if any), its machine, and one instant. */
export interface Context {
  machine: Machine;
  event: EngineEvent;
  deps: Deps;
  now: Date;
  /** The machine's newest version as the State Manager knows it (for upgrades). */
  latest?: Machine;
}

/**
 * Turns a draft into an applied decision: the next stack, its task messages and the history
 * detail. A task message that cannot be built (its task left the spec, or it is over the SQS
 * limit) refuses the whole event, so nothing half-done is written.
 */
export function finish(ctx: Context, stack: Stack, from: string | null, draft: Draft): Decision {
  const { event, now } = ctx;
  const upgrade = upgradeOnEntry(ctx, stack, draft);
  const machine = upgrade ?? ctx.machine;
  const at = isoTime(now);
  // Entering a state offers it the events kept by earlier ones (which may move the stack on).
  const kept = draft.patch.deferred === null ? [] : (draft.patch.deferred ?? stack.deferred ?? []);
  const offered =
    draft.path.length > 0 && kept.length > 0 ? offerDeferred(machine, draft, kept, ctx.deps) : undefined;
  if (offered) draft.patch.deferred = offered.left.length > 0 ? offered.left : null;
  const dispatched = new Set(draft.dispatch.map((d) => d.token));
  // A dispatched attempt starts now: it is timed from here.
  const tasks = draft.tasks.map((t) => {
    if (!dispatched.has(t.token)) return t;
    const timed: StackTask = { ...t, dispatchedAt: at };
    delete timed.finishedAt;
    const deadline = attemptDeadline(machine.tasks.get(t.name), at, now);
    if (deadline !== undefined) timed.deadline = deadline;
    return timed;
  });
  const next: Stack | null = draft.removed
    ? null
    : patched(
        {
          ...stack,
          version: draft.version,
          state: draft.state,
          entry: draft.entry,
          tasks,
          metadata: draft.metadata,
          updatedAt: at,
          ...(draft.path.length > 0 ? { enteredAt: at } : {}),
          ...(draft.active ? { activeAt: at } : {}),
        },
        draft.patch,
      );
  const outbound: OutboundTask[] = [];
  const failedAtDispatch: { task: string; reason: string }[] = [];
  if (next) {
    for (const dispatch of draft.dispatch) {
      const built = buildTaskMessage(machine, next, dispatch, now);
      if (built.ok) outbound.push(built.task);
      else if (built.fatal) return refused(event, from, built.reason);
      else failedAtDispatch.push({ task: dispatch.task, reason: built.reason });
    }
    // A dispatch that cannot be sent fails its task at once, with the reason: nothing is sent, and
    // the stack waits in its state for a person (nothing half-done, nothing stuck PENDING).
    if (failedAtDispatch.length > 0) {
      const why = new Map(failedAtDispatch.map((f) => [f.task, f.reason]));
      next.tasks = next.tasks.map((t) => {
        const reason = why.get(t.name);
        if (reason === undefined || !dispatched.has(t.token)) return t;
        const failed: StackTask = {
          ...t,
          status: "ERROR",
          description: `not dispatched: ${reason}`,
          finishedAt: at,
        };
        delete failed.deadline;
        return failed;
      });
      draft.dispatch = draft.dispatch.filter((d) => !why.has(d.task));
    }
  }
  const decision: AppliedDecision = {
    outcome: "applied",
    stack: next,
    from,
    to: draft.state,
    path: draft.path,
    dispatch: next ? draft.dispatch : [],
    tasks: outbound,
    removed: draft.removed,
    detail: eventDetail(event),
  };
  // A first event has no stored timers; a stack whose version changes has its timers rewritten.
  const before = from === null ? [] : timersOf(ctx.machine, stack);
  const after = next ? timersOf(machine, next) : [];
  if (!sameTimers(before, after) || (next !== null && next.version !== stack.version)) {
    decision.timers = after;
    const kept = keptTimers(before, after);
    if (kept.length > 0) decision.timersKept = kept;
  }
  const note =
    draft.note ??
    (draft.removed ? `entered terminal state ${draft.state} without tasks: stack removed` : undefined);
  if (note !== undefined) {
    decision.note = note;
    decision.detail.note = note;
  }
  if (decision.dispatch.length > 0) decision.detail.dispatched = decision.dispatch;
  if (failedAtDispatch.length > 0) decision.detail.notDispatched = failedAtDispatch;
  if (offered && offered.also.length > 0) decision.also = [...(decision.also ?? []), ...offered.also];
  if (draft.removed) decision.detail.removed = true;
  if (upgrade) {
    const upgraded = { from: stack.version, to: upgrade.version };
    decision.detail.upgraded = upgraded;
    decision.also = [
      ...(decision.also ?? []),
      {
        event: "UPGRADE_MACHINE",
        key: `${event.key}#upgrade`,
        outcome: "applied",
        from: draft.state,
        to: draft.state,
        detail: {
          upgraded,
          note: `upgraded from version ${upgraded.from} to ${upgraded.to} on entering ${draft.state} (upgrade: on-state-entry)`,
        },
      },
    ];
  }
  return decision;
}

/** The stack with the patch applied: a value sets a field, null removes it. */
function patched(stack: Stack, patch: StackPatch): Stack {
  const next: Record<string, unknown> = { ...stack };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = value;
  }
  return next as unknown as Stack;
}

/**
 * A stack entering a state moves to the newest version when that version says so (`upgrade:
 * on-state-entry`) and has the state: it enters the new version's state, with its tasks.
 */
function upgradeOnEntry(ctx: Context, stack: Stack, draft: Draft): Machine | undefined {
  const { latest } = ctx;
  if (draft.path.length === 0 || draft.removed || !upgradesOnEntry(stack, latest)) return undefined;
  const state = latest.states.get(draft.state);
  if (!state) return undefined;
  enterTasks(draft, state, ctx.deps);
  draft.version = latest.version;
  return latest;
}
