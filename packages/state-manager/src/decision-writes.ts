// Repository layer: writes what one decision changes (stack row, outbox rows, history row) in one statement.
import type { Notification, OutboundTask, Stack, Timer } from "@stackseam/core";
import { type Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import { type HistoryRecord, historyRow } from "./history.js";
import type { Database } from "./schema.js";
import { stackColumns } from "./stack-rows.js";

/** The SQLSTATE of stackseam_roll_back (migration 007): a statement undone on purpose. */
const ROLLED_BACK = "SS409";

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
  const { ctes, values } = eventParts(w, null);
  const { rows } = await sql<{ event_key: string }>`
    ${ctes.length > 0 ? sql`WITH ${sql.join(ctes)}` : sql``}
    INSERT INTO history (stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path, task, token, detail)
    VALUES ${sql.join(values)}
    ON CONFLICT (stack_id, event_key) WHERE duplicate = false DO NOTHING
    RETURNING event_key`.execute(trx);
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
 * the statement writes all or nothing. An event is thus two statements: read, this.
 */
export async function writeIfCurrent(
  db: Kysely<Database>,
  w: EventWrite,
  guard: RowGuard,
): Promise<GuardedWrite> {
  const { ctes, values } = eventParts(w, sql`EXISTS (SELECT FROM k)`);
  const lock =
    "version" in guard
      ? sql`l AS (SELECT 1 FROM stacks WHERE id = ${w.stackId} AND xmin = ${guard.version}::xid FOR UPDATE)`
      : sql`l AS (SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM stacks WHERE id = ${w.stackId}))`;
  const { rows } = await sql<GuardedWrite>`
    WITH ${lock},
    h AS (
      INSERT INTO history (stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path, task, token, detail)
      SELECT * FROM (VALUES ${sql.join(values)}) AS v WHERE EXISTS (SELECT FROM l)
      ON CONFLICT (stack_id, event_key) WHERE duplicate = false DO NOTHING
      RETURNING event_key),
    k AS (SELECT 1 FROM h WHERE event_key = ${w.history.eventKey})
    ${ctes.length > 0 ? sql`, ${sql.join(ctes)}` : sql``}
    SELECT EXISTS (SELECT FROM l) AS current, EXISTS (SELECT FROM k) AS recorded`.execute(db);
  const row = rows[0];
  return { current: row?.current === true, recorded: row?.recorded === true };
}

/**
 * The CTEs of an event's write (stack, timers, notifications, outbox) and its history rows' VALUES.
 * With `gate`, every CTE writes only when it holds.
 */
function eventParts(w: EventWrite, gate: RawBuilder<unknown> | null) {
  const { stackId, write, messages, history: rec, also = [], timers, notifications = [] } = w;
  const and = gate ? sql` AND ${gate}` : sql``;
  const where = gate ? sql` WHERE ${gate}` : sql``;
  const ctes: RawBuilder<unknown>[] = [];
  if (write.kind === "update") {
    const c = stackColumns(write.stack);
    ctes.push(sql`s AS (
      UPDATE stacks SET machine = ${c.machine}, version = ${c.version}, state = ${c.state}, metadata = ${c.metadata}::jsonb,
        tasks = ${c.tasks}::jsonb, entry = ${c.entry},
        created_at = ${c.created_at}::timestamptz, updated_at = ${c.updated_at}::timestamptz,
        entered_at = ${c.entered_at}::timestamptz, active_at = ${c.active_at}::timestamptz,
        outputs = ${c.outputs}::jsonb, deferred = ${c.deferred}::jsonb, ttl = ${c.ttl}::jsonb,
        ttl_warned_for = ${c.ttl_warned_for}::timestamptz, ttl_fired_for = ${c.ttl_fired_for}::timestamptz
      WHERE id = ${stackId}${and} RETURNING 1)`);
  } else if (write.kind === "delete") {
    ctes.push(sql`s AS (DELETE FROM stacks WHERE id = ${stackId}${and} RETURNING 1)`);
  }
  if (timers !== undefined) ctes.push(...timerWrites(stackId, write.kind === "delete" ? [] : timers, gate));
  if (notifications.length > 0) ctes.push(notificationWrite(stackId, rec.eventKey, notifications, where));
  if (messages.length > 0) {
    // Rows are inserted in array order, so outbox ids (the send order) follow the dispatch order.
    ctes.push(sql`o AS (
      INSERT INTO outbox (stack_id, task, token, body)
      SELECT ${stackId}, m.task, m.token, m.body
      FROM unnest(${messages.map((m) => m.task)}::text[], ${messages.map((m) => m.token)}::text[],
                  ${messages.map((m) => m.body)}::text[]) AS m(task, token, body)${where}
      RETURNING 1)`);
  }
  // The event's own row first, then the rows it brings (an upgrade, deferred events): one INSERT
  // numbers them in that order.
  const values = [rec, ...also].map((r) => {
    const h = historyRow(r);
    return sql`(${h.stack_id}, ${h.machine}, ${h.event}, ${h.event_key}, ${h.outcome}, ${h.reason}, ${h.from_state},
                ${h.to_state}, ${h.path}::text[], ${h.task}, ${h.token}, ${h.detail}::jsonb)`;
  });
  return { ctes, values };
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
  trx: Kysely<Database> | Transaction<Database>,
  stack: Stack,
  messages: readonly OutboxMessage[],
  rec: HistoryRecord,
  timers: readonly Timer[] = [],
  notifications: readonly Notification[] = [],
): Promise<{ created: boolean; recorded: boolean }> {
  const h = historyRow(rec);
  const c = stackColumns(stack);
  const { rows } = await sql<{ created: boolean; recorded: boolean }>`
    WITH s AS (
      INSERT INTO stacks (id, machine, version, state, metadata, tasks, entry, created_at, updated_at,
                          entered_at, active_at, outputs, deferred, ttl, ttl_warned_for, ttl_fired_for)
      VALUES (${c.id}, ${c.machine}, ${c.version}, ${c.state}, ${c.metadata}::jsonb, ${c.tasks}::jsonb, ${c.entry},
              ${c.created_at}::timestamptz, ${c.updated_at}::timestamptz, ${c.entered_at}::timestamptz,
              ${c.active_at}::timestamptz, ${c.outputs}::jsonb, ${c.deferred}::jsonb, ${c.ttl}::jsonb,
              ${c.ttl_warned_for}::timestamptz, ${c.ttl_fired_for}::timestamptz)
      ON CONFLICT (id) DO NOTHING RETURNING 1),
    t AS (
      INSERT INTO timers (stack_id, name, due_at)
      SELECT ${c.id}, t.name, t.due_at
      FROM unnest(${timers.map((t) => t.name)}::text[], ${timers.map((t) => t.dueAt)}::timestamptz[]) AS t(name, due_at)
      WHERE EXISTS (SELECT FROM s)
      RETURNING 1),
    o AS (
      INSERT INTO outbox (stack_id, task, token, body)
      SELECT ${stack.id}, m.task, m.token, m.body
      FROM unnest(${messages.map((m) => m.task)}::text[], ${messages.map((m) => m.token)}::text[],
                  ${messages.map((m) => m.body)}::text[]) AS m(task, token, body)
      WHERE EXISTS (SELECT FROM s)
      RETURNING 1),
    n AS (
      INSERT INTO notifications (stack_id, event_key, target, kind, destination, body)
      SELECT ${c.id}, ${rec.eventKey}, x.target, x.kind, x.destination::jsonb, x.body::jsonb
      FROM unnest(${notifications.map((n) => n.target)}::text[], ${notifications.map((n) => n.kind)}::text[],
                  ${notifications.map((n) => JSON.stringify(n.destination))}::text[],
                  ${notifications.map((n) => JSON.stringify(n.body))}::text[]) AS x(target, kind, destination, body)
      WHERE EXISTS (SELECT FROM s)
      ON CONFLICT DO NOTHING
      RETURNING 1),
    h AS (
      INSERT INTO history (stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path, task, token, detail)
      SELECT ${h.stack_id}, ${h.machine}, ${h.event}, ${h.event_key}, ${h.outcome}, ${h.reason}, ${h.from_state},
             ${h.to_state}, ${h.path}::text[], ${h.task}, ${h.token}, ${h.detail}::jsonb
      WHERE EXISTS (SELECT FROM s)
      ON CONFLICT (stack_id, event_key) WHERE duplicate = false DO NOTHING
      RETURNING 1)
    SELECT EXISTS (SELECT FROM s) AS created,
      CASE WHEN EXISTS (SELECT FROM s) AND NOT EXISTS (SELECT FROM h)
           THEN stackseam_roll_back('a first event whose key is known: handled as a duplicate')
           ELSE true END AS recorded`
    .execute(trx)
    .catch((err: unknown) => {
      if ((err as { code?: string }).code === ROLLED_BACK)
        return { rows: [{ created: true, recorded: false }] };
      throw err;
    });
  const row = rows[0];
  return { created: row?.created === true, recorded: row?.recorded === true };
}

/**
 * CTEs that make the stack's timer rows equal `timers`: the others deleted, these inserted or moved
 * (a moved timer loses any tick's claim; an unchanged one keeps it). With `gate`, only when it holds.
 */
function timerWrites(
  stackId: string,
  timers: readonly Timer[],
  gate: RawBuilder<unknown> | null,
): RawBuilder<unknown>[] {
  const names = timers.map((t) => t.name);
  const and = gate ? sql` AND ${gate}` : sql``;
  const writes = [
    sql`td AS (DELETE FROM timers WHERE stack_id = ${stackId} AND name <> ALL(${names}::text[])${and} RETURNING 1)`,
  ];
  if (timers.length > 0) {
    writes.push(sql`tu AS (
      INSERT INTO timers (stack_id, name, due_at)
      SELECT ${stackId}, t.name, t.due_at
      FROM unnest(${names}::text[], ${timers.map((t) => t.dueAt)}::timestamptz[]) AS t(name, due_at)${gate ? sql` WHERE ${gate}` : sql``}
      ON CONFLICT (stack_id, name) DO UPDATE SET due_at = EXCLUDED.due_at, claimed_until = NULL
        WHERE timers.due_at IS DISTINCT FROM EXCLUDED.due_at
      RETURNING 1)`);
  }
  return writes;
}

/** A CTE that writes the event's notifications to the notifications outbox (once per key, target and kind). */
function notificationWrite(
  stackId: string,
  eventKey: string,
  notifications: readonly Notification[],
  where: RawBuilder<unknown>,
): RawBuilder<unknown> {
  return sql`nw AS (
    INSERT INTO notifications (stack_id, event_key, target, kind, destination, body)
    SELECT ${stackId}, ${eventKey}, x.target, x.kind, x.destination::jsonb, x.body::jsonb
    FROM unnest(${notifications.map((n) => n.target)}::text[], ${notifications.map((n) => n.kind)}::text[],
                ${notifications.map((n) => JSON.stringify(n.destination))}::text[],
                ${notifications.map((n) => JSON.stringify(n.body))}::text[]) AS x(target, kind, destination, body)${where}
    ON CONFLICT DO NOTHING
    RETURNING 1)`;
}
