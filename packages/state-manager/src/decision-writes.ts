// Repository layer: writes what one decision changes (stack row, outbox rows, history row) in one statement.
import type { Notification, OutboundTask, Stack, Timer } from "@stackseam/core";
import type { Transaction } from "kysely";
import { PREPARED, type Runner, rowsOf } from "./database.js";
import { type HistoryRecord, historyRow } from "./history.js";
import type { Database } from "./schema.js";
import { stackColumns } from "./stack-rows.js";

/** The SQLSTATE of stackseam_roll_back (migration 007): a statement undone on purpose. */
const ROLLED_BACK = "SS409";

// The statements below are built as text with numbered parameters rather than with Kysely's `sql`
// tag: they run for every event, and building and compiling a dozen-CTE template costs more than
// the rest of an event's JavaScript but core. Values are always parameters, never text.

/**
 * Numbered parameters of one statement: `p(value)` adds one and returns its placeholder. A quiet
 * one returns nothing: the statement's text is known already (see texts), only its values are not.
 */
class Params {
  readonly values: unknown[] = [];
  readonly #quiet: boolean;

  constructor(quiet = false) {
    this.#quiet = quiet;
  }

  p(value: unknown, cast = ""): string {
    this.values.push(value);
    return this.#quiet ? "" : `$${this.values.length}${cast}`;
  }
}

function run<R>(db: Runner, text: string, params: Params): Promise<R[]> {
  return rowsOf<R>(db, text, params.values);
}

/** A column of rows sent as one array parameter: its name, the array's cast, and each row's value. */
type Column<T> = readonly [name: string, cast: string, value: (row: T) => unknown];

/** `unnest(…) AS alias(…)` over the rows: one array parameter per column, in the order given. */
function unnestOf<T>(q: Params, rows: readonly T[], alias: string, columns: readonly Column<T>[]): string {
  const arrays = columns.map(([, cast, value]) => q.p(rows.map(value), cast));
  return `unnest(${arrays.join(", ")}) AS ${alias}(${columns.map(([name]) => name).join(", ")})`;
}

const OUTBOX_COLUMNS: readonly Column<OutboxMessage>[] = [
  ["task", "::text[]", (m) => m.task],
  ["token", "::text[]", (m) => m.token],
  ["body", "::text[]", (m) => m.body],
];
const TIMER_COLUMNS: readonly Column<Timer>[] = [
  ["name", "::text[]", (t) => t.name],
  ["due_at", "::timestamptz[]", (t) => t.dueAt],
];
const NOTIFICATION_COLUMNS: readonly Column<Notification>[] = [
  ["target", "::text[]", (n) => n.target],
  ["kind", "::text[]", (n) => n.kind],
  ["destination", "::text[]", (n) => JSON.stringify(n.destination)],
  ["body", "::text[]", (n) => JSON.stringify(n.body)],
];

/**
 * One statement of the event path: its text, its values, and its shape — what its text depends
 * on (which CTEs it has, how many history rows), never on a value: two statements of one shape
 * have the same text.
 */
export interface Statement {
  shape: string;
  text: string;
  values: unknown[];
}

/** Texts by shape (see texts). */
export type Texts = Map<string, string>;

// The text of each shape, built once: a statement of a known shape only collects its values, and
// sending that same string again, rather than an equal one built anew, spares the driver and the
// prepared-statement lookup reading the whole text (to flatten, hash and compare it) for every
// event. A few shapes occur; past this many, texts are built for each statement.
const MAX_SHAPES = 256;
const texts: Texts = new Map();

/** The statement of `shape`: its known text with `q`'s values, or the text `build` makes, remembered. */
function statement(
  shape: string,
  known: string | undefined,
  q: Params,
  build: () => string,
  cache: Texts | null,
): Statement {
  if (known !== undefined) return { shape, text: known, values: q.values };
  const text = build();
  if (cache && cache.size < MAX_SHAPES) cache.set(shape, text);
  return { shape, text, values: q.values };
}

/** What an event does to its (locked) stack row. */
export type RowWrite = { kind: "update"; stack: Stack } | { kind: "delete" } | { kind: "none" };

/** Everything one event writes (see writeEvent). */
export interface EventWrite {
  stackId: string;
  write: RowWrite;
  messages: readonly OutboxMessage[];
  history: HistoryRecord;
  /** Further history rows (an upgrade, deferred events). */
  also?: readonly HistoryRecord[];
  /** The stack's timers, when they changed. */
  timers?: readonly Timer[] | undefined;
  /** The names among `timers` whose due time did not change (see AppliedDecision.timersKept). */
  timersKept?: readonly string[] | undefined;
  notifications?: readonly Notification[] | undefined;
}

/** What the outbox stores of a task message. */
export type OutboxMessage = Pick<OutboundTask, "task" | "token" | "body">;

/**
 * Writes everything an event changes — the stack row (UPDATE or DELETE), its outbox rows and its
 * history row — in ONE statement, with data-modifying CTEs, inside a transaction that holds the
 * stack's row lock (the path an event takes when the unlocked one, writeIfCurrent, keeps losing
 * races or meets a known key). Every CTE runs exactly once, to completion, whether or not the
 * final INSERT reads it.
 *
 * Returns whether the history row was the first for its (stack, event key). When it was not, the
 * stack and outbox writes have been made all the same: the caller must roll back (or, if the key
 * was already checked under the lock, record the row as a duplicate, as insertHistory does).
 */
export async function writeEvent(trx: Transaction<Database>, w: EventWrite): Promise<boolean> {
  const q = new Params();
  const ctes = eventCtes(w, q, null);
  const rows = await run<{ event_key: string }>(
    trx,
    `${ctes.length > 0 ? `WITH ${ctes.join(",\n")}\n` : ""}INSERT INTO history (${HISTORY_COLUMNS})
    VALUES ${historyValues(w, q)}
    ON CONFLICT (stack_id, event_key) WHERE duplicate = false DO NOTHING
    RETURNING event_key`,
    q,
  );
  return rows.some((r) => r.event_key === w.history.eventKey);
}

/** What the stack must still be for an unlocked write to go ahead: the version read, or absent. */
export type RowGuard = { version: string } | { absent: true };

/** What an unlocked write did: `current` false, the stack changed since it was read (nothing written). */
export interface GuardedWrite {
  current: boolean;
  /** The event's key was new (everything was written); false with `current`: nothing was written. */
  recorded: boolean;
}

/**
 * Writes everything an event changes, like writeEvent, in ONE statement that commits on its own
 * (no transaction block): the stack must still be as it was read — `version` is its xmin, checked
 * under the row lock the statement takes (`FOR UPDATE` re-reads a row changed meanwhile, which then
 * no longer matches) — or still absent. In that statement the history row goes first; the stack,
 * timer, outbox and notification writes run only if it was inserted (the event's key was new), so
 * the statement writes all or nothing. An event is thus two statements, read and this, or only
 * this when its batch read the stack beforehand (readStacks).
 */
export async function writeIfCurrent(db: Runner, w: EventWrite, guard: RowGuard): Promise<GuardedWrite> {
  const s = guardedWriteStatement(w, guard);
  const rows = await rowsOf<GuardedWrite>(db, s.text, s.values);
  const row = rows[0];
  return { current: row?.current === true, recorded: row?.recorded === true };
}

/** The statement writeIfCurrent sends (`cache`: the texts by shape to use and fill; null: none). */
export function guardedWriteStatement(
  w: EventWrite,
  guard: RowGuard,
  cache: Texts | null = texts,
): Statement {
  const shape = `guarded ${"version" in guard ? "version" : "absent"} ${historyRows(w)}${eventShape(w)}`;
  const known = cache?.get(shape);
  const q = new Params(known !== undefined);
  const lock =
    "version" in guard
      ? `l AS (SELECT 1 FROM stacks WHERE id = ${q.p(w.stackId)} AND xmin = ${q.p(guard.version, "::xid")} FOR UPDATE)`
      : `l AS (SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM stacks WHERE id = ${q.p(w.stackId)}))`;
  const history = `h AS (
      INSERT INTO history (${HISTORY_COLUMNS})
      SELECT * FROM (VALUES ${historyValues(w, q)}) AS v WHERE EXISTS (SELECT FROM l)
      ON CONFLICT (stack_id, event_key) WHERE duplicate = false DO NOTHING
      RETURNING event_key)`;
  const key = `k AS (SELECT 1 FROM h WHERE event_key = ${q.p(w.history.eventKey)})`;
  const rest = eventCtes(w, q, "EXISTS (SELECT FROM k)");
  return statement(
    shape,
    known,
    q,
    () => `${PREPARED}WITH ${[lock, history, key, ...rest].join(",\n")}
    SELECT EXISTS (SELECT FROM l) AS current, EXISTS (SELECT FROM k) AS recorded`,
    cache,
  );
}

const HISTORY_COLUMNS =
  "stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path, task, token, detail";

/** How many history rows the event writes (its own and those it brings). */
const historyRows = (w: EventWrite): number => 1 + (w.also?.length ?? 0);

/** The VALUES rows of the event's history rows: its own first, then the rows it brings. */
function historyValues(w: EventWrite, q: Params): string {
  // One INSERT numbers them in that order (an upgrade, deferred events after the event).
  return [w.history, ...(w.also ?? [])]
    .map((r) => {
      const h = historyRow(r);
      return `(${q.p(h.stack_id)}, ${q.p(h.machine)}, ${q.p(h.event)}, ${q.p(h.event_key)}, ${q.p(h.outcome)}, ${q.p(h.reason)}, ${q.p(h.from_state)}, ${q.p(h.to_state)}, ${q.p(h.path, "::text[]")}, ${q.p(h.task)}, ${q.p(h.token)}, ${q.p(h.detail, "::jsonb")})`;
    })
    .join(", ");
}

/** Which of the event's timers move (new, or with a new due time) and which stay as they were. */
function splitTimers(w: EventWrite): {
  all: readonly Timer[];
  moved: readonly Timer[];
  unchanged: readonly Timer[];
} {
  const all = w.write.kind === "delete" ? [] : (w.timers ?? []);
  const kept = w.timersKept ?? [];
  if (kept.length === 0) return { all, moved: all, unchanged: [] };
  return {
    all,
    moved: all.filter((t) => !kept.includes(t.name)),
    unchanged: all.filter((t) => kept.includes(t.name)),
  };
}

/** The shape eventCtes gives a statement: which of its CTEs it has (see Statement). */
function eventShape(w: EventWrite): string {
  let shape = ` ${w.write.kind}`;
  if (w.timers !== undefined) {
    const { moved, unchanged } = splitTimers(w);
    shape += ` timers${moved.length > 0 ? " moved" : ""}${unchanged.length > 0 ? " kept" : ""}`;
  }
  if ((w.notifications ?? []).length > 0) shape += " notifications";
  if (w.messages.length > 0) shape += " outbox";
  return shape;
}

/**
 * The CTEs of an event's write besides its history rows: stack, timers, notifications, outbox.
 * With `gate` (an SQL condition), every one writes only when it holds.
 */
function eventCtes(w: EventWrite, q: Params, gate: string | null): string[] {
  const { stackId, write, messages, timers, notifications = [] } = w;
  const and = gate ? ` AND ${gate}` : "";
  const where = gate ? ` WHERE ${gate}` : "";
  const ctes: string[] = [];
  if (write.kind === "update") {
    const c = stackColumns(write.stack);
    ctes.push(`s AS (
      UPDATE stacks SET machine = ${q.p(c.machine)}, version = ${q.p(c.version)}, state = ${q.p(c.state)},
        metadata = ${q.p(c.metadata, "::jsonb")}, tasks = ${q.p(c.tasks, "::jsonb")}, entry = ${q.p(c.entry)},
        created_at = ${q.p(c.created_at, "::timestamptz")}, updated_at = ${q.p(c.updated_at, "::timestamptz")},
        entered_at = ${q.p(c.entered_at, "::timestamptz")}, active_at = ${q.p(c.active_at, "::timestamptz")},
        outputs = ${q.p(c.outputs, "::jsonb")}, deferred = ${q.p(c.deferred, "::jsonb")}, ttl = ${q.p(c.ttl, "::jsonb")},
        ttl_warned_for = ${q.p(c.ttl_warned_for, "::timestamptz")}, ttl_fired_for = ${q.p(c.ttl_fired_for, "::timestamptz")}
      WHERE id = ${q.p(stackId)}${and} RETURNING 1)`);
  } else if (write.kind === "delete") {
    ctes.push(`s AS (DELETE FROM stacks WHERE id = ${q.p(stackId)}${and} RETURNING 1)`);
  }
  if (timers !== undefined) {
    const { all, moved, unchanged } = splitTimers(w);
    ctes.push(...timerWrites(stackId, all, moved, unchanged, q, gate));
  }
  if (notifications.length > 0)
    ctes.push(notificationWrite("nw", stackId, w.history.eventKey, notifications, q, where));
  if (messages.length > 0) ctes.push(outboxWrite("o", stackId, messages, q, where));
  return ctes;
}

/**
 * Creates a new stack with everything its first event writes, in ONE statement: the final stack
 * row (`INSERT … ON CONFLICT (id) DO NOTHING`, which locks it until commit like any new row), its
 * outbox rows and its history row, the last two only if the stack row was inserted. The caller
 * decided the event on "no stack"; the insert is what proves it (a concurrent creator's row makes
 * it wait, then conflict when that creator commits, or go ahead when it rolls back).
 *
 * `created` false: the stack exists and nothing was written (lock it and decide again).
 * `recorded` false with `created`: the event key was known, and the statement rolled itself back
 * (stackseam_roll_back), so nothing was written either; inside a transaction block, the caller
 * must roll that back.
 */
export async function createStack(
  db: Runner,
  stack: Stack,
  messages: readonly OutboxMessage[],
  rec: HistoryRecord,
  timers: readonly Timer[] = [],
  notifications: readonly Notification[] = [],
): Promise<{ created: boolean; recorded: boolean }> {
  const s = createStackStatement(stack, messages, rec, timers, notifications);
  const rows = await rowsOf<{ created: boolean; recorded: boolean }>(db, s.text, s.values).catch(
    (err: unknown) => {
      if ((err as { code?: string }).code === ROLLED_BACK) return [{ created: true, recorded: false }];
      throw err;
    },
  );
  const row = rows[0];
  return { created: row?.created === true, recorded: row?.recorded === true };
}

/** The statement createStack sends (`cache`: as for guardedWriteStatement). */
export function createStackStatement(
  stack: Stack,
  messages: readonly OutboxMessage[],
  rec: HistoryRecord,
  timers: readonly Timer[] = [],
  notifications: readonly Notification[] = [],
  cache: Texts | null = texts,
): Statement {
  const shape = `create${timers.length > 0 ? " timers" : ""}${messages.length > 0 ? " outbox" : ""}${notifications.length > 0 ? " notifications" : ""}`;
  const known = cache?.get(shape);
  const q = new Params(known !== undefined);
  const h = historyRow(rec);
  const c = stackColumns(stack);
  const id = q.p(c.id);
  const created = "WHERE EXISTS (SELECT FROM s)";
  const ctes = [
    `s AS (
      INSERT INTO stacks (id, machine, version, state, metadata, tasks, entry, created_at, updated_at,
                          entered_at, active_at, outputs, deferred, ttl, ttl_warned_for, ttl_fired_for)
      VALUES (${id}, ${q.p(c.machine)}, ${q.p(c.version)}, ${q.p(c.state)}, ${q.p(c.metadata, "::jsonb")}, ${q.p(c.tasks, "::jsonb")},
              ${q.p(c.entry)}, ${q.p(c.created_at, "::timestamptz")}, ${q.p(c.updated_at, "::timestamptz")},
              ${q.p(c.entered_at, "::timestamptz")}, ${q.p(c.active_at, "::timestamptz")}, ${q.p(c.outputs, "::jsonb")},
              ${q.p(c.deferred, "::jsonb")}, ${q.p(c.ttl, "::jsonb")}, ${q.p(c.ttl_warned_for, "::timestamptz")},
              ${q.p(c.ttl_fired_for, "::timestamptz")})
      ON CONFLICT (id) DO NOTHING RETURNING 1)`,
  ];
  // Only the tables the event writes: a CTE that inserts nothing still opens and locks its table
  // and every index of it, for each execution.
  if (timers.length > 0) {
    ctes.push(`t AS (
      INSERT INTO timers (stack_id, name, due_at)
      ${timerRows(q, id, timers, ` ${created}`)}
      RETURNING 1)`);
  }
  if (messages.length > 0) ctes.push(outboxWrite("o", stack.id, messages, q, ` ${created}`, id));
  if (notifications.length > 0)
    ctes.push(notificationWrite("n", c.id, rec.eventKey, notifications, q, ` ${created}`, id));
  ctes.push(`h AS (
      INSERT INTO history (${HISTORY_COLUMNS})
      SELECT ${id}, ${q.p(h.machine)}, ${q.p(h.event)}, ${q.p(h.event_key)}, ${q.p(h.outcome)}, ${q.p(h.reason)},
             ${q.p(h.from_state)}, ${q.p(h.to_state)}, ${q.p(h.path, "::text[]")}, ${q.p(h.task)}, ${q.p(h.token)},
             ${q.p(h.detail, "::jsonb")}
      ${created}
      ON CONFLICT (stack_id, event_key) WHERE duplicate = false DO NOTHING
      RETURNING 1)`);
  return statement(
    shape,
    known,
    q,
    () => `${PREPARED}WITH ${ctes.join(",\n")}
    SELECT EXISTS (SELECT FROM s) AS created,
      CASE WHEN EXISTS (SELECT FROM s) AND NOT EXISTS (SELECT FROM h)
           THEN stackseam_roll_back('a first event whose key is known: handled as a duplicate')
           ELSE true END AS recorded`,
    cache,
  );
}

/** A CTE inserting the task messages into the outbox, in array order (outbox ids follow the dispatch order). */
function outboxWrite(
  name: string,
  stackId: string,
  messages: readonly OutboxMessage[],
  q: Params,
  where: string,
  id = q.p(stackId),
): string {
  return `${name} AS (
      INSERT INTO outbox (stack_id, task, token, body)
      SELECT ${id}, m.task, m.token, m.body
      FROM ${unnestOf(q, messages, "m", OUTBOX_COLUMNS)}${where}
      RETURNING 1)`;
}

/** The rows `(stack id, name, due time)` of `timers`, for an INSERT into timers; `where` follows. */
function timerRows(q: Params, id: string, timers: readonly Timer[], where: string): string {
  return `SELECT ${id}, t.name, t.due_at
      FROM ${unnestOf(q, timers, "t", TIMER_COLUMNS)}${where}`;
}

/**
 * CTEs that make the stack's timer rows equal `timers`: the others deleted, the `moved` ones (new,
 * or with a new due time) inserted or moved (a moved timer loses any tick's claim). An `unchanged`
 * one has the due time it had, so its row is only inserted if missing: an upsert that finds the
 * row unchanged still locks it (ON CONFLICT DO UPDATE locks the row before testing its WHERE),
 * which writes the row and a WAL record for nothing. With `gate`, only when it holds.
 */
function timerWrites(
  stackId: string,
  timers: readonly Timer[],
  moved: readonly Timer[],
  unchanged: readonly Timer[],
  q: Params,
  gate: string | null,
): string[] {
  const names = q.p(
    timers.map((t) => t.name),
    "::text[]",
  );
  const id = q.p(stackId);
  const where = gate ? ` WHERE ${gate}` : "";
  const writes = [
    `td AS (DELETE FROM timers WHERE stack_id = ${id} AND name <> ALL(${names})${gate ? ` AND ${gate}` : ""} RETURNING 1)`,
  ];
  if (moved.length > 0) {
    writes.push(`tu AS (
      INSERT INTO timers (stack_id, name, due_at)
      ${timerRows(q, id, moved, where)}
      ON CONFLICT (stack_id, name) DO UPDATE SET due_at = EXCLUDED.due_at, claimed_until = NULL
        WHERE timers.due_at IS DISTINCT FROM EXCLUDED.due_at
      RETURNING 1)`);
  }
  if (unchanged.length > 0) {
    writes.push(`tk AS (
      INSERT INTO timers (stack_id, name, due_at)
      ${timerRows(q, id, unchanged, where)}
      ON CONFLICT (stack_id, name) DO NOTHING
      RETURNING 1)`);
  }
  return writes;
}

/** A CTE that writes the event's notifications to the notifications outbox (once per key, target and kind). */
function notificationWrite(
  name: string,
  stackId: string,
  eventKey: string,
  notifications: readonly Notification[],
  q: Params,
  where: string,
  id = q.p(stackId),
): string {
  return `${name} AS (
    INSERT INTO notifications (stack_id, event_key, target, kind, destination, body)
    SELECT ${id}, ${q.p(eventKey)}, x.target, x.kind, x.destination::jsonb, x.body::jsonb
    FROM ${unnestOf(q, notifications, "x", NOTIFICATION_COLUMNS)}${where}
    ON CONFLICT DO NOTHING
    RETURNING 1)`;
}
