import { type AppliedDecision, type Decision, eventDetail, type OutboundTask, refused } from "./decision.js";
import { type Draft, enterTasks } from "./draft.js";
import type { Machine } from "./machine.js";
import type { Deps, EngineEvent, Stack } from "./model.js";
import { buildTaskMessage } from "./task-message.js";
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
  const next: Stack | null = draft.removed
    ? null
    : {
        ...stack,
        version: draft.version,
        state: draft.state,
        entry: draft.entry,
        tasks: draft.tasks,
        metadata: draft.metadata,
        updatedAt: now.toISOString(),
      };
  const tasks: OutboundTask[] = [];
  if (next) {
    for (const dispatch of draft.dispatch) {
      const built = buildTaskMessage(machine, next, dispatch, now);
      if (!built.ok) return refused(event, from, built.reason);
      tasks.push(built.task);
    }
  }
  const decision: AppliedDecision = {
    outcome: "applied",
    stack: next,
    from,
    to: draft.state,
    path: draft.path,
    dispatch: next ? draft.dispatch : [],
    tasks,
    removed: draft.removed,
    detail: eventDetail(event),
  };
  const note =
    draft.note ??
    (draft.removed ? `entered terminal state ${draft.state} without tasks: stack removed` : undefined);
  if (note !== undefined) {
    decision.note = note;
    decision.detail.note = note;
  }
  if (decision.dispatch.length > 0) decision.detail.dispatched = decision.dispatch;
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
