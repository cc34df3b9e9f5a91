// Orchestration layer: one event, one transaction. Locks (or creates) the stack row, asks core for
// the decision, and writes exactly what it says. Every rule about what an event does is in core.
import {
  type Decision,
  type Deps,
  type Dispatch,
  type EngineEvent,
  initialTransition,
  type Machine,
  type MachineRef,
  type Outcome,
  transition,
} from "@stackseam/core";
import type { Kysely, Transaction } from "kysely";
import { createStack, type RowWrite, writeEvent } from "./decision-writes.js";
import { InvariantError } from "./errors.js";
import { alreadyProcessed, type HistoryRecord, insertDuplicate, insertDuplicateOf } from "./history.js";
import type { MachineSource } from "./machine-source.js";
import type { Database } from "./schema.js";
import { deleteStack, lockStack, type StackRow, toStack } from "./stack-rows.js";

/** What processing one event did; logged, and used to decide whether to flush the outbox. */
export interface EventResult {
  stackId: string;
  event: string;
  key: string;
  machine: string | null;
  outcome: Outcome;
  reason?: string;
  from: string | null;
  to: string | null;
  path: string[];
  dispatched: Dispatch[];
  removed: boolean;
  duplicate: boolean;
  /**
   * This event wrote task messages to the outbox (to be sent after commit). Rows left unsent by
   * earlier events are found by the batch's flush, not reported here.
   */
  unsent: boolean;
}

export interface EngineContext {
  db: Kysely<Database>;
  machines: MachineSource;
  deps: Deps;
}

/** Thrown inside the transaction when the event's key turns out to be known: it rolls back. */
class KnownKey extends Error {}

/**
 * Applies one event in one transaction: lock (or create) the stack, skip it if its key was seen,
 * decide (core), write the stack, the outbox rows and a history row. Refusals are returned as
 * data; anything thrown is transient (the transaction rolled back).
 *
 * Redeliveries are rare, so the key is not looked up first: the history row's unique index on
 * (stack, key) decides, in the same transaction. When the key was known, that transaction is
 * rolled back and the event is processed again with the look-up, as a duplicate.
 */
export async function applyEvent(ctx: EngineContext, event: EngineEvent): Promise<EventResult> {
  try {
    return await attempt(ctx, event, false);
  } catch (err) {
    if (err instanceof KnownKey) return attempt(ctx, event, true);
    throw err;
  }
}

/** The fields of a history row that come from the event itself. */
function eventColumns(event: EngineEvent, stackId: string) {
  return {
    stackId,
    event: event.name,
    eventKey: event.key,
    task: event.task ?? null,
    token: event.token ?? null,
  };
}

async function attempt(ctx: EngineContext, event: EngineEvent, checkKey: boolean): Promise<EventResult> {
  const stackId = event.stackId;
  if (stackId === undefined) throw new InvariantError("an event without a stackId reached applyEvent");
  return ctx.db.transaction().execute(async (trx) => {
    let exists = false;
    if (event.machine !== undefined && !checkKey) {
      const done = await tryCreate(ctx, trx, event, stackId, event.machine);
      if (done === "exists") exists = true;
      else if (done) return done;
    }
    const { row, created } = await lockStack(trx, stackId, event.machine, !exists);
    const existing = created ? null : row;
    const from = existing?.state ?? null;
    const machine = row?.machine ?? event.machine ?? null;
    const columns = { ...eventColumns(event, stackId), machine };

    if (checkKey && (await alreadyProcessed(trx, stackId, event.key))) {
      if (created) await deleteStack(trx, stackId);
      await insertDuplicate(trx, { ...columns, from });
      return duplicateResult(event, stackId, machine, from);
    }

    const decision = await decide(ctx, event, existing);
    const history: HistoryRecord = { ...columns, ...historyFields(decision, machine) };
    let write: RowWrite;
    if (decision.outcome === "applied" && decision.stack) write = { kind: "update", stack: decision.stack };
    else if (decision.outcome === "applied" ? row !== null : created) write = { kind: "delete" };
    else write = { kind: "none" };
    const tasks = decision.outcome === "applied" ? decision.tasks : [];
    // Stack, outbox rows and history row in one statement (see writeEvent).
    if (!(await writeEvent(trx, stackId, write, tasks, history))) {
      // Unchecked, a known key rolls back everything written and takes the duplicate path; checked,
      // a concurrent duplicate we could not lock out (no stack row) is recorded as one.
      if (!checkKey) throw new KnownKey();
      await insertDuplicateOf(trx, history);
      return decision.outcome === "applied"
        ? resultOf(event, stackId, machine, decision)
        : { ...duplicateResult(event, stackId, machine, from), reason: decision.reason };
    }
    return resultOf(event, stackId, machine, decision);
  });
}

/**
 * An event naming a machine usually starts a stack. Decided on "no stack", an applied event that
 * leaves a stack is written by one statement that inserts the stack row itself (see createStack):
 * BEGIN, that, COMMIT. Returns "exists" when the stack exists (nothing was written), null when the
 * event is not plainly applied; the caller then locks and decides as usual.
 */
async function tryCreate(
  ctx: EngineContext,
  trx: Transaction<Database>,
  event: EngineEvent,
  stackId: string,
  machineName: string,
): Promise<EventResult | "exists" | null> {
  const decision = await decide(ctx, event, null, machineName);
  if (decision.outcome !== "applied" || !decision.stack) return null;
  const history: HistoryRecord = { ...eventColumns(event, stackId), ...historyFields(decision, machineName) };
  const { created, recorded } = await createStack(trx, decision.stack, decision.tasks, history);
  if (!created) return "exists";
  if (!recorded) throw new KnownKey();
  return resultOf(event, stackId, machineName, decision);
}

/** Loads the machine the decision needs and asks core for it (initialTransition when there is no stack). */
async function decide(
  ctx: EngineContext,
  event: EngineEvent,
  row: StackRow | null,
  named: string | undefined = event.machine,
): Promise<Decision> {
  if (row === null) {
    const ref: MachineRef<Machine> | null = named === undefined ? null : await ctx.machines.get(named);
    return initialTransition(ref, event, ctx.deps);
  }
  return transition(await ctx.machines.get(row.machine), toStack(row), event, ctx.deps);
}

/** The history row's fields that come from the decision. */
function historyFields(decision: Decision, machine: string | null) {
  if (decision.outcome !== "applied") {
    return {
      machine,
      outcome: decision.outcome,
      reason: decision.reason,
      from: decision.from,
      to: decision.from,
      detail: decision.detail,
    };
  }
  return {
    machine,
    outcome: decision.outcome,
    from: decision.from,
    to: decision.to,
    path: decision.path,
    detail: decision.detail,
  };
}

function resultOf(
  event: EngineEvent,
  stackId: string,
  machine: string | null,
  decision: Decision,
): EventResult {
  const base = { stackId, event: event.name, key: event.key, machine, from: decision.from, duplicate: false };
  if (decision.outcome !== "applied") {
    return {
      ...base,
      outcome: decision.outcome,
      reason: decision.reason,
      to: decision.from,
      path: [],
      dispatched: [],
      removed: false,
      unsent: false,
    };
  }
  return {
    ...base,
    outcome: "applied",
    ...(decision.note ? { reason: decision.note } : {}),
    to: decision.to,
    path: decision.path,
    dispatched: decision.dispatch,
    removed: decision.removed,
    unsent: decision.tasks.length > 0,
  };
}

function duplicateResult(
  event: EngineEvent,
  stackId: string,
  machine: string | null,
  from: string | null,
): EventResult {
  return {
    stackId,
    event: event.name,
    key: event.key,
    machine,
    outcome: "ignored",
    reason: "duplicate",
    from,
    to: from,
    path: [],
    dispatched: [],
    removed: false,
    duplicate: true,
    unsent: false,
  };
}
