import { type AppliedDecision, type Decision, eventDetail, type OutboundTask, refused } from "./decision.js";
import type { Draft } from "./draft.js";
import type { Machine } from "./machine.js";
import type { Deps, EngineEvent, Stack } from "./model.js";
import { buildTaskMessage } from "./task-message.js";

/** What one event is decided against: the stack (if any), its machine, and one instant. */
export interface Context {
  machine: Machine;
  event: EngineEvent;
  deps: Deps;
  now: Date;
}

/**
 * Turns a draft into an applied decision: the next stack, its task messages and the history
 * detail. A task message that cannot be built (its task left the spec, or it is over the SQS
 * limit) refuses the whole event, so nothing half-done is written.
 */
export function finish(ctx: Context, stack: Stack, from: string | null, draft: Draft): Decision {
  const { event, now } = ctx;
  const next: Stack | null = draft.removed
    ? null
    : {
        ...stack,
        state: draft.state,
        entry: draft.entry,
        tasks: draft.tasks,
        metadata: draft.metadata,
        updatedAt: now.toISOString(),
      };
  const tasks: OutboundTask[] = [];
  if (next) {
    for (const dispatch of draft.dispatch) {
      const built = buildTaskMessage(ctx.machine, next, dispatch, now);
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
  return decision;
}
