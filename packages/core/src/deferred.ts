import type { AlsoRecorded } from "./decision.js";
import { applyActions, type Draft } from "./draft.js";
import type { ActionSpec, StateSpec } from "./generated/machine-spec.js";
import type { Machine } from "./machine.js";
import { mergeMetadata, metadataGrowthProblem } from "./metadata.js";
import type { DeferredEvent, Deps, EngineEvent, Stack } from "./model.js";

/** Whether a handler is a deferral: the event is kept, not applied. */
export function isDefer(actions: readonly ActionSpec[] | undefined): boolean {
  return actions !== undefined && actions.length > 0 && actions.every((a) => a.action === "defer");
}

/** The handler of `event` in `state`, if it has one. */
export function handlerOf(state: StateSpec | undefined, event: string): readonly ActionSpec[] | undefined {
  return state?.on !== undefined && Object.hasOwn(state.on, event) ? state.on[event] : undefined;
}

/** The stack's deferred events with `event` added last (a key already kept is not kept twice). */
export function deferEvent(stack: Stack, event: EngineEvent, at: string): DeferredEvent[] {
  const kept = stack.deferred ?? [];
  if (kept.some((d) => d.key === event.key)) return kept;
  const entry: DeferredEvent = { name: event.name, key: event.key, at };
  if (event.metadata && Object.keys(event.metadata).length > 0)
    entry.metadata = { ...event.metadata } as never;
  return [...kept, entry];
}

/**
 * Offers the kept events to the state the draft entered, first to last: one the state handles is
 * applied (its metadata merges, its actions run, and if they enter yet another state the rest are
 * offered again there); one it defers stays; one it does not handle leaves the queue, refused.
 * Each that leaves gets a history row of its own, keyed from its own key.
 */
export function offerDeferred(
  machine: Machine,
  draft: Draft,
  queue: readonly DeferredEvent[],
  deps: Pick<Deps, "newToken">,
): { left: DeferredEvent[]; also: AlsoRecorded[] } {
  let left = [...queue];
  const also: AlsoRecorded[] = [];
  let offered = true;
  while (offered && !draft.removed) {
    offered = false;
    for (const kept of left) {
      const state = machine.states.get(draft.state);
      const actions = handlerOf(state, kept.name);
      if (isDefer(actions)) continue;
      left = left.filter((d) => d !== kept);
      const from = draft.state;
      const row = { event: kept.name, key: `${kept.key}#deferred`, from };
      if (actions === undefined) {
        also.push({
          ...row,
          outcome: "refused",
          reason: `deferred ${kept.name} (kept since ${kept.at}) is not handled in ${draft.state}, which the stack entered`,
          to: from,
          detail: { deferredAt: kept.at },
        });
        continue;
      }
      const grows = metadataGrowthProblem(draft.metadata, kept.metadata);
      if (grows) {
        also.push({
          ...row,
          outcome: "refused",
          reason: `deferred ${kept.name}: ${grows}`,
          to: from,
          detail: { deferredAt: kept.at },
        });
        continue;
      }
      const entered = draft.path.length;
      draft.metadata = mergeMetadata(draft.metadata, kept.metadata);
      const problem = applyActions(machine, draft, actions, deps);
      if (problem) {
        also.push({ ...row, outcome: "refused", reason: problem, to: from, detail: { deferredAt: kept.at } });
        continue;
      }
      also.push({
        ...row,
        outcome: "applied",
        to: draft.state,
        detail: {
          deferredAt: kept.at,
          note: `deferred ${kept.name} applied on entering ${from}`,
          ...(kept.metadata ? { metadataKeys: Object.keys(kept.metadata) } : {}),
        },
      });
      // It entered another state: what is still kept is offered there, from the first again.
      if (draft.path.length > entered) {
        offered = true;
        break;
      }
    }
  }
  if (draft.removed) {
    for (const kept of left) {
      also.push({
        event: kept.name,
        key: `${kept.key}#deferred`,
        from: draft.state,
        to: draft.state,
        outcome: "refused",
        reason: `deferred ${kept.name} dropped: the stack was removed`,
        detail: { deferredAt: kept.at },
      });
    }
    left = [];
  }
  return { left, also };
}
