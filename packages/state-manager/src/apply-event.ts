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
import type { Kysely } from "kysely";
import { poolOf, type Runner } from "./database.js";
import {
  createStack,
  type EventWrite,
  type RowWrite,
  writeEvent,
  writeIfCurrent,
} from "./decision-writes.js";
import { InvariantError } from "./errors.js";
import { alreadyProcessed, type HistoryRecord, insertDuplicate, insertDuplicateOf } from "./history.js";
import type { MachineSource } from "./machine-source.js";
import { type MachineVersions, machineVersions } from "./machine-versions.js";
import type { Database } from "./schema.js";
import { deleteStack, lockStack, type ReadStack, readStack, type StackRow, toStack } from "./stack-rows.js";

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
  /** This event wrote notifications (sent after commit; what a batch does not send, the tick does). */
  notified: boolean;
  /**
   * Whether the stack had task messages unsent when this event read it (left by an earlier attempt):
   * false lets a batch that wrote none skip its outbox check; undefined when not known.
   */
  unsentBefore?: boolean;
}

export interface EngineContext {
  db: Kysely<Database>;
  machines: MachineSource;
  versions: MachineVersions;
  deps: Deps;
}

/** An engine context over a database and the current specs (the versions cache is per context). */
export function engineContext(db: Kysely<Database>, machines: MachineSource, deps: Deps): EngineContext {
  return { db, machines, versions: machineVersions(db, machines), deps };
}

/** Thrown inside the transaction when the event's key turns out to be known: it rolls back. */
class KnownKey extends Error {}

/**
 * Thrown inside the transaction when the stack's machine version is not loaded, or a version the
 * decision moves it to is not stored yet: it rolls back, the work happens without a lock, and the
 * event is tried again.
 */
class NeedsMachine extends Error {
  readonly machine: string;
  readonly version: string | null;
  readonly store: Machine | undefined;

  constructor(machine: string, version: string | null, store?: Machine) {
    super(`machine ${machine} version ${version ?? "(current)"} is not loaded`);
    this.machine = machine;
    this.version = version;
    this.store = store;
  }
}

/** The machine the event names, loaded before any lock (S3 or the file system may be slow). */
type Named = MachineRef<Machine> | null;

/**
 * Applies one event: read the stack, decide (core), write the stack, the outbox rows, the timers,
 * the notifications and the history row — all or nothing. Refusals are returned as data; anything
 * thrown is transient (nothing was written). `ahead`: the stack as the batch read it beforehand
 * (readStacks; null when it did not exist), used instead of reading it again until a try gets as
 * far as its write (see Ahead).
 *
 * Usually without a transaction block: the stack is read (or created) by one statement and the
 * decision written by one more, which goes ahead only if the stack is still the one that was read
 * (see writeIfCurrent); a stack that changed in between is read and decided again. An event that
 * keeps losing that race, or whose key turns out to be known (a redelivery), takes the locked path:
 * one transaction holding the stack's row lock, the key looked up under it.
 */
export async function applyEvent(
  ctx: EngineContext,
  event: EngineEvent,
  ahead?: ReadStack | null,
): Promise<EventResult> {
  const named: Named = event.machine === undefined ? null : await ctx.machines.get(event.machine);
  if (named?.ok) await ctx.versions.remember(named.machine);
  // Only for an event that reads first (one naming a machine tries to create the stack first).
  const early: Ahead = { read: event.machine === undefined ? ahead : undefined };
  // A version is loaded at most once per attempt; three covers "pinned" and "to store".
  for (let loads = 0; ; loads++) {
    try {
      return await applyOnce(ctx, event, named, early);
    } catch (err) {
      if (!(err instanceof NeedsMachine) || loads >= 3) throw err;
      if (err.store) await ctx.versions.remember(err.store);
      else await ctx.versions.load(err.machine, err.version);
    }
  }
}

// Reads and writes without a lock before an event takes the locked path (races are rare: one
// stack's records of a batch run in order, so only other batches or the tick can overtake).
const UNLOCKED_TRIES = 3;

/**
 * A read made before the event ran, used until a try writes (a try that first had to load a
 * machine version wrote nothing, so the read is still as good); later tries read afresh.
 */
interface Ahead {
  read: ReadStack | null | undefined;
}

async function applyOnce(
  ctx: EngineContext,
  event: EngineEvent,
  named: Named,
  ahead: Ahead,
): Promise<EventResult> {
  for (let i = 0; i < UNLOCKED_TRIES; i++) {
    const done = await unlocked(ctx, event, named, ahead);
    if (done === KNOWN) return attempt(ctx, event, named, true);
    if (done !== MOVED) return done;
  }
  try {
    return await attempt(ctx, event, named, false);
  } catch (err) {
    if (err instanceof KnownKey) return await attempt(ctx, event, named, true);
    throw err;
  }
}

/** The stack changed (or appeared, or went) between the read and the write: nothing was written. */
const MOVED = Symbol("moved");
/** The event's key is in history already (or looked so): nothing was written. */
const KNOWN = Symbol("known");

/**
 * One try without a transaction block: an event naming a machine first tries to create the stack
 * (one statement, see createStack); otherwise, or when it exists, the stack is read, the event
 * decided and written by one statement guarded by what was read (see writeIfCurrent).
 */
async function unlocked(
  ctx: EngineContext,
  event: EngineEvent,
  named: Named,
  ahead: Ahead,
): Promise<EventResult | typeof MOVED | typeof KNOWN> {
  // One pool client for the try's statements (see Runner); nothing between them waits on
  // anything else, so it is held no longer than the statements need.
  const pool = poolOf(ctx.db);
  if (!pool) return unlockedOn(ctx, ctx.db, event, named, ahead);
  const client = await pool.connect();
  try {
    return await unlockedOn(ctx, client, event, named, ahead);
  } finally {
    client.release();
  }
}

async function unlockedOn(
  ctx: EngineContext,
  db: Runner,
  event: EngineEvent,
  named: Named,
  ahead: Ahead,
): Promise<EventResult | typeof MOVED | typeof KNOWN> {
  const stackId = event.stackId;
  if (stackId === undefined) throw new InvariantError("an event without a stackId reached applyEvent");
  if (event.machine !== undefined) {
    const created = await tryCreate(ctx, db, event, stackId, event.machine, named);
    if (created === KNOWN || (created !== null && created !== "exists")) return created;
  }
  // A read made earlier is as good as one made now: the write checks the stack is still as read.
  const read = ahead.read !== undefined ? ahead.read : await readStack(db, stackId);
  const row = read?.row ?? null;
  const machine = row?.machine ?? event.machine ?? null;
  const decision = decide(ctx, event, row, named);
  ahead.read = undefined;
  // A stack that existed a moment ago is gone: the event may create it now.
  if (row === null && decision.outcome === "applied" && decision.stack) return MOVED;
  const write = eventWrite(event, stackId, machine, decision, row !== null, false);
  const done = await writeIfCurrent(db, write, read ? { version: read.version } : { absent: true });
  if (!done.current) return MOVED;
  if (!done.recorded) return KNOWN;
  const result = resultOf(event, stackId, machine, decision);
  if (read) result.unsentBefore = read.unsent;
  return result;
}

/**
 * Everything the decision writes. `exists`: the stack row is there (read or locked); `created`:
 * this transaction inserted it provisionally (the locked path), so an event not applied removes it.
 */
function eventWrite(
  event: EngineEvent,
  stackId: string,
  machine: string | null,
  decision: Decision,
  exists: boolean,
  created: boolean,
): EventWrite {
  const history: HistoryRecord = { ...eventColumns(event, stackId), ...historyFields(decision, machine) };
  let write: RowWrite;
  if (decision.outcome === "applied" && decision.stack) write = { kind: "update", stack: decision.stack };
  else if (decision.outcome === "applied" ? exists : created) write = { kind: "delete" };
  else write = { kind: "none" };
  const also = (decision.also ?? []).map(
    (a): HistoryRecord => ({
      stackId,
      machine,
      event: a.event,
      eventKey: a.key,
      outcome: a.outcome,
      reason: a.reason ?? null,
      from: a.from,
      to: a.to,
      detail: a.detail,
    }),
  );
  return {
    stackId,
    write,
    messages: decision.outcome === "applied" ? decision.tasks : [],
    history,
    also,
    timers: decision.outcome === "applied" ? decision.timers : undefined,
    timersKept: decision.outcome === "applied" ? decision.timersKept : undefined,
    notifications: decision.notifications,
  };
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

async function attempt(
  ctx: EngineContext,
  event: EngineEvent,
  named: Named,
  checkKey: boolean,
): Promise<EventResult> {
  const stackId = event.stackId;
  if (stackId === undefined) throw new InvariantError("an event without a stackId reached applyEvent");
  return ctx.db.transaction().execute(async (trx) => {
    let exists = false;
    if (event.machine !== undefined && !checkKey) {
      const done = await tryCreate(ctx, trx, event, stackId, event.machine, named);
      if (done === KNOWN) throw new KnownKey();
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

    const decision = decide(ctx, event, existing, named);
    // Stack, outbox rows and history rows in one statement (see writeEvent).
    const write = eventWrite(event, stackId, machine, decision, row !== null, created);
    const written = await writeEvent(trx, write);
    if (!written) {
      // Unchecked, a known key rolls back everything written and takes the duplicate path; checked,
      // a concurrent duplicate we could not lock out (no stack row) is recorded as one.
      if (!checkKey) throw new KnownKey();
      await insertDuplicateOf(trx, write.history);
      return decision.outcome === "applied"
        ? resultOf(event, stackId, machine, decision)
        : { ...duplicateResult(event, stackId, machine, from), reason: decision.reason };
    }
    return resultOf(event, stackId, machine, decision);
  });
}

/**
 * An event naming a machine usually starts a stack. Decided on "no stack", an applied event that
 * leaves a stack is written by one statement that inserts the stack row itself (see createStack).
 * Returns "exists" when the stack exists (nothing was written), KNOWN when the event's key was
 * (nothing was written: the statement rolled itself back), null when the event is not plainly
 * applied; the caller then reads or locks and decides as usual.
 */
async function tryCreate(
  ctx: EngineContext,
  db: Runner,
  event: EngineEvent,
  stackId: string,
  machineName: string,
  named: Named,
): Promise<EventResult | "exists" | typeof KNOWN | null> {
  const decision = decide(ctx, event, null, named);
  if (decision.outcome !== "applied" || !decision.stack) return null;
  const history: HistoryRecord = { ...eventColumns(event, stackId), ...historyFields(decision, machineName) };
  const { created, recorded } = await createStack(
    db,
    decision.stack,
    decision.tasks,
    history,
    decision.timers,
    decision.notifications,
  );
  if (!created) return "exists";
  if (!recorded) return KNOWN;
  return resultOf(event, stackId, machineName, decision);
}

/**
 * Asks core for the decision: initialTransition when there is no stack, else transition by the
 * version the stack runs (with the newest version known, for upgrades). No I/O: a version not in
 * this container's cache, or one the decision moves the stack to that is not stored yet, throws
 * NeedsMachine so that loading or storing it happens after the transaction rolled back.
 */
function decide(ctx: EngineContext, event: EngineEvent, row: StackRow | null, named: Named): Decision {
  if (row === null) return initialTransition(named, event, ctx.deps);
  const pinned = ctx.versions.peek(row.machine, row.version);
  if (!pinned) throw new NeedsMachine(row.machine, row.version);
  const current = named?.ok && named.machine.name === row.machine ? named : ctx.machines.cached(row.machine);
  const latest = current?.ok ? current.machine : undefined;
  const stack = toStack(row, pinned.ok ? pinned.machine.version : "");
  const decision = transition(pinned, stack, event, ctx.deps, latest ? { latest } : {});
  const version = decision.outcome === "applied" ? decision.stack?.version : undefined;
  if (version !== undefined && version !== row.version) {
    const runs = [pinned.ok ? pinned.machine : undefined, latest].find((m) => m?.version === version);
    if (runs && !ctx.versions.isStored(runs)) throw new NeedsMachine(row.machine, version, runs);
  }
  return decision;
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
  const base = {
    stackId,
    event: event.name,
    key: event.key,
    machine,
    from: decision.from,
    duplicate: false,
    notified: (decision.notifications?.length ?? 0) > 0,
  };
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
    notified: false,
  };
}
