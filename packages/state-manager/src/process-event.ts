import {
  CoreError,
  type Deps,
  type Dispatch,
  type EngineEvent,
  INIT,
  type Machine,
  type Outcome,
  type Stack,
  type TransitionResult,
  taskMessage,
  transition,
} from "@stackseam/core";
import type { Kysely, Selectable, Transaction } from "kysely";
import { StateManagerError } from "./errors.js";
import { alreadyProcessed, type HistoryRecord, insertDuplicate, insertDuplicateOf } from "./history.js";
import type { MachineSource } from "./machine-source.js";
import { MAX_SQS_BYTES } from "./outbox.js";
import type { Database, StacksTable } from "./schema.js";
import { createStack, type OutboxMessage, writeEvent } from "./write-event.js";

type StackRow = Selectable<StacksTable>;

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

const REPORTS = new Set(["TASK_COMPLETED", "TASK_ERROR"]);

/** Converts a stacks row to the core's Stack. */
export function toStack(row: StackRow): Stack {
  return {
    id: row.id,
    machine: row.machine,
    state: row.state,
    metadata: row.metadata ?? {},
    tasks: row.tasks ?? [],
    entry: row.entry,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * Locks the stack's row for this transaction. When the stack does not exist and the event names
 * a machine, a provisional row is inserted (ON CONFLICT DO NOTHING), which locks it just the
 * same; it is deleted again if the event is not applied, so a refused first event leaves only history.
 */
async function lockStack(
  trx: Transaction<Database>,
  id: string,
  machine: string | undefined,
  insertFirst: boolean,
): Promise<{ row: StackRow | null; created: boolean }> {
  // A concurrent creator may commit, or delete its provisional row, between our two statements.
  for (let attempt = 0; attempt < 5; attempt++) {
    // An event naming a machine usually starts a stack: try the insert first (one statement then),
    // unless the caller just found that the stack exists.
    if (machine && insertFirst && attempt === 0) {
      const inserted = await insertProvisional(trx, id, machine);
      if (inserted) return { row: inserted, created: true };
    }
    const row = await trx
      .selectFrom("stacks")
      .selectAll()
      .where("id", "=", id)
      .forUpdate()
      .executeTakeFirst();
    if (row) return { row, created: false };
    if (!machine) return { row: null, created: false };
    const inserted = await insertProvisional(trx, id, machine);
    if (inserted) return { row: inserted, created: true };
  }
  throw new StateManagerError("DATABASE", `could not lock or create stack ${id}`);
}

/** Inserts a provisional INIT row (locked by this transaction), or returns undefined if one exists. */
function insertProvisional(
  trx: Transaction<Database>,
  id: string,
  machine: string,
): Promise<StackRow | undefined> {
  return trx
    .insertInto("stacks")
    .values({ id, machine, state: INIT, metadata: "{}", tasks: "[]", entry: 0 })
    .onConflict((oc) => oc.column("id").doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Thrown inside the transaction when the event's key turns out to be known: it rolls back. */
class KnownKey extends Error {}

function detailOf(event: EngineEvent): Record<string, unknown> {
  const detail: Record<string, unknown> = {};
  if (event.metadata && Object.keys(event.metadata).length > 0)
    detail.metadataKeys = Object.keys(event.metadata);
  if (event.description !== undefined) detail.description = event.description;
  return detail;
}

/**
 * Applies one event in one transaction: lock (or create) the stack, skip it if its key was seen,
 * run the core transition, write the stack, the outbox rows and a history row. Refusals are
 * returned as data; anything thrown is transient (the transaction rolled back).
 *
 * Redeliveries are rare, so the key is not looked up first: the history row's unique index on
 * (stack, key) decides, in the same transaction. When the key was known, that transaction is
 * rolled back and the event is processed again with the look-up, as a duplicate.
 */
export async function processEvent(ctx: EngineContext, event: EngineEvent): Promise<EventResult> {
  try {
    return await attempt(ctx, event, false);
  } catch (err) {
    if (err instanceof KnownKey) return attempt(ctx, event, true);
    throw err;
  }
}

async function attempt(ctx: EngineContext, event: EngineEvent, checkKey: boolean): Promise<EventResult> {
  const stackId = event.stackId;
  if (stackId === undefined)
    throw new StateManagerError("DATABASE", "event without a stackId reached processEvent");
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
    const base = {
      stackId,
      event: event.name,
      key: event.key,
      machine: row?.machine ?? event.machine ?? null,
      from,
    };
    const historyBase = {
      stackId,
      machine: base.machine,
      event: event.name,
      eventKey: event.key,
      task: event.task ?? null,
      token: event.token ?? null,
    };

    /** Ends the transaction without touching the stack: refused or ignored. */
    const notApplied = async (outcome: "refused" | "ignored", reason: string): Promise<EventResult> => {
      const record: HistoryRecord = {
        ...historyBase,
        outcome,
        reason,
        from,
        to: from,
        detail: detailOf(event),
      };
      // The provisional row goes in the same statement as the history row (see writeEvent).
      // Unchecked, a known key rolls back and takes the duplicate path; checked, a concurrent
      // duplicate we could not lock out (no stack row) is recorded as one.
      const first = await writeEvent(trx, stackId, { kind: created ? "delete" : "none" }, [], record);
      if (!first && !checkKey) throw new KnownKey();
      if (!first) await insertDuplicateOf(trx, record);
      return {
        ...base,
        outcome: first ? outcome : "ignored",
        reason,
        to: from,
        path: [],
        dispatched: [],
        removed: false,
        duplicate: !first,
        unsent: false,
      };
    };

    if (checkKey && (await alreadyProcessed(trx, stackId, event.key))) {
      if (created) await trx.deleteFrom("stacks").where("id", "=", stackId).execute();
      await insertDuplicate(trx, { ...historyBase, from });
      return {
        ...base,
        outcome: "ignored",
        reason: "duplicate",
        to: from,
        path: [],
        dispatched: [],
        removed: false,
        duplicate: true,
        unsent: false,
      };
    }

    const machineName = row?.machine ?? event.machine;
    if (!machineName) {
      return REPORTS.has(event.name)
        ? notApplied("ignored", `stack ${stackId} does not exist (it may have been removed); report ignored`)
        : notApplied("refused", `stack ${stackId} does not exist, and its first event must name a machine`);
    }
    if (existing && event.machine !== undefined && event.machine !== existing.machine) {
      return notApplied(
        "refused",
        `stack ${stackId} runs machine ${existing.machine}, but the event names machine ${event.machine}`,
      );
    }
    const decision = await decide(ctx, event, existing ? toStack(existing) : null, machineName);
    if (!decision.applied) return notApplied(decision.outcome, decision.reason);
    const { result, messages } = decision;
    const next = result.stack;
    const history: HistoryRecord = { ...historyBase, ...decision.history };
    // Stack, outbox rows and history row in one statement (see writeEvent).
    const write = next
      ? { kind: "update" as const, stack: next }
      : { kind: row ? ("delete" as const) : ("none" as const) };
    if (!(await writeEvent(trx, stackId, write, messages, history))) {
      // Unchecked, a known key rolls back everything written and takes the duplicate path.
      if (!checkKey) throw new KnownKey();
      await insertDuplicateOf(trx, history);
    }
    return appliedResult(base, decision);
  });
}

/**
 * An event naming a machine usually starts a stack. Decided on "no stack", an applied event that
 * leaves a stack is then written by one statement that inserts the stack row itself (see
 * createStack): BEGIN, that, COMMIT. Returns "exists" when the stack exists (nothing was written),
 * null when the event is not plainly applied; the caller then locks and decides as usual.
 */
async function tryCreate(
  ctx: EngineContext,
  trx: Transaction<Database>,
  event: EngineEvent,
  stackId: string,
  machineName: string,
): Promise<EventResult | "exists" | null> {
  const decision = await decide(ctx, event, null, machineName);
  if (!decision.applied || !decision.result.stack) return null;
  const history: HistoryRecord = {
    stackId,
    event: event.name,
    eventKey: event.key,
    task: event.task ?? null,
    token: event.token ?? null,
    ...decision.history,
  };
  const { created, recorded } = await createStack(trx, decision.result.stack, decision.messages, history);
  if (!created) return "exists";
  if (!recorded) throw new KnownKey();
  return appliedResult({ stackId, event: event.name, key: event.key, from: null }, decision);
}

type Decision =
  | { applied: false; outcome: "refused" | "ignored"; reason: string }
  | {
      applied: true;
      machine: Machine;
      result: Extract<TransitionResult, { outcome: "applied" }>;
      messages: OutboxMessage[];
      /** The history row's applied fields (the caller adds the event's). */
      history: Pick<HistoryRecord, "machine" | "outcome" | "from" | "to" | "path" | "detail">;
    };

/**
 * Runs the core transition on the stack as read (null: no stack) and builds the task messages.
 * Pure apart from the (cached) machine look-up: nothing is written.
 */
async function decide(
  ctx: EngineContext,
  event: EngineEvent,
  stack: Stack | null,
  machineName: string,
): Promise<Decision> {
  const refuse = (reason: string): Decision => ({ applied: false, outcome: "refused", reason });
  const lookup = await ctx.machines.get(machineName);
  if (!lookup.ok) return refuse(lookup.reason);
  const machine: Machine = lookup.machine;

  const result = transition(machine, stack, event, ctx.deps);
  if (result.outcome !== "applied") return { applied: false, outcome: result.outcome, reason: result.reason };

  const next = result.stack;
  const messages: OutboxMessage[] = [];
  if (next) {
    const now = ctx.deps.now();
    for (const dispatch of result.dispatch) {
      let message: ReturnType<typeof taskMessage>;
      try {
        message = taskMessage(machine, next, dispatch, now);
      } catch (err) {
        // The spec changed under the stack (e.g. a retried task was renamed): retrying cannot
        // help, so refuse the event with the reason instead of sending it to the DLQ.
        if (err instanceof CoreError) return refuse(err.message);
        throw err;
      }
      const body = JSON.stringify(message);
      const bytes = Buffer.byteLength(body, "utf8");
      if (bytes > MAX_SQS_BYTES) {
        return refuse(
          `the task message for ${dispatch.task} would be ${bytes} bytes, over the SQS limit of ${MAX_SQS_BYTES}; send less metadata`,
        );
      }
      messages.push({ task: dispatch.task, token: dispatch.token, body });
    }
  } else if (result.dispatch.length > 0) {
    throw new StateManagerError("DATABASE", `transition removed stack ${event.stackId} yet dispatched tasks`);
  }

  const detail = detailOf(event);
  if (result.note) detail.note = result.note;
  if (result.dispatch.length > 0) detail.dispatched = result.dispatch;
  if (result.removed) detail.removed = true;
  return {
    applied: true,
    machine,
    result,
    messages,
    history: {
      machine: machine.name,
      outcome: "applied",
      from: result.from,
      to: result.to,
      path: result.path,
      detail,
    },
  };
}

function appliedResult(
  base: Pick<EventResult, "stackId" | "event" | "key" | "from">,
  { machine, result, messages }: Extract<Decision, { applied: true }>,
): EventResult {
  return {
    ...base,
    machine: machine.name,
    outcome: "applied",
    ...(result.note ? { reason: result.note } : {}),
    from: result.from,
    to: result.to,
    path: result.path,
    dispatched: result.dispatch,
    removed: result.removed,
    duplicate: false,
    unsent: messages.length > 0,
  };
}
