// Repository layer: reading and locking stack rows. Typed functions over a transaction; no decisions.
import { INIT, isoTime, type Stack } from "@stackseam/core";
import type { Selectable, Transaction } from "kysely";
import { PREPARED, type Runner, rowsOf } from "./database.js";
import { DatabaseError } from "./errors.js";
import type { Database, StacksTable } from "./schema.js";

export type StackRow = Selectable<StacksTable>;

/** Converts a stacks row to the core's Stack; a row from before versions runs `fallbackVersion`. */
export function toStack(row: StackRow, fallbackVersion = ""): Stack {
  return {
    id: row.id,
    machine: row.machine,
    version: row.version ?? fallbackVersion,
    state: row.state,
    metadata: row.metadata ?? {},
    tasks: row.tasks ?? [],
    entry: row.entry,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
    ...(row.entered_at ? { enteredAt: isoTime(row.entered_at) } : {}),
    ...(row.active_at ? { activeAt: isoTime(row.active_at) } : {}),
    ...(row.outputs ? { outputs: row.outputs } : {}),
    ...(row.deferred && row.deferred.length > 0 ? { deferred: row.deferred } : {}),
    ...(row.ttl ? { ttl: row.ttl } : {}),
    ...(row.ttl_warned_for ? { ttlWarnedFor: isoTime(row.ttl_warned_for) } : {}),
    ...(row.ttl_fired_for ? { ttlFiredFor: isoTime(row.ttl_fired_for) } : {}),
  };
}

/** The stack's columns as the write statements bind them (JSON as text, absent as null). */
export function stackColumns(s: Stack) {
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
  return {
    id: s.id,
    machine: s.machine,
    version: s.version,
    state: s.state,
    metadata: JSON.stringify(s.metadata),
    tasks: JSON.stringify(s.tasks),
    entry: s.entry,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    entered_at: s.enteredAt ?? null,
    active_at: s.activeAt ?? null,
    outputs: json(s.outputs),
    deferred: json(s.deferred && s.deferred.length > 0 ? s.deferred : undefined),
    ttl: json(s.ttl),
    ttl_warned_for: s.ttlWarnedFor ?? null,
    ttl_fired_for: s.ttlFiredFor ?? null,
  };
}

/** A stack row as read without a lock: its version (xmin) and whether it has task messages unsent. */
export interface ReadStack {
  row: StackRow;
  /** Changes with every write of the row: what an unlocked write checks (see writeIfCurrent). */
  version: string;
  /** Task messages of the stack not sent yet (left by an earlier attempt): the batch must flush. */
  unsent: boolean;
}

// Every column of a stack row, named (a prepared statement must not select `*`: see PREPARED).
const STACK_COLUMNS: Record<keyof StacksTable, true> = {
  id: true,
  machine: true,
  version: true,
  state: true,
  metadata: true,
  tasks: true,
  entry: true,
  created_at: true,
  updated_at: true,
  entered_at: true,
  active_at: true,
  outputs: true,
  deferred: true,
  ttl: true,
  ttl_warned_for: true,
  ttl_fired_for: true,
};
// A stack row as both reads return it: its columns, its version and whether it has unsent messages.
const READ_COLUMNS = `${Object.keys(STACK_COLUMNS)
  .map((c) => `s.${c}`)
  .join(", ")}, s.xmin::text AS row_version,
  EXISTS (SELECT 1 FROM outbox o WHERE o.stack_id = s.id AND o.sent_at IS NULL) AS unsent`;
type ReadRow = StackRow & { row_version: string; unsent: boolean };
const toRead = ({ row_version, unsent, ...row }: ReadRow): ReadStack => ({
  row,
  version: row_version,
  unsent,
});

const READ_STACK = `${PREPARED}SELECT ${READ_COLUMNS} FROM stacks s WHERE s.id = $1`;

// Several stacks by id, each found through the primary key: a plain `id = ANY($1)` let the
// planner pick the trigram index of stack search on the id (008; since 011 the id is part of
// one search text), which cost more than the reads it saved.
const READ_STACKS = `${PREPARED}
  SELECT r.* FROM unnest($1::text[]) AS x(id) CROSS JOIN LATERAL (
    SELECT ${READ_COLUMNS} FROM stacks s WHERE s.id = x.id ORDER BY s.id LIMIT 1) r`;

/** Reads several stacks without locking them, in one statement: each id maps to what readStack would return. */
export async function readStacks(db: Runner, ids: readonly string[]): Promise<Map<string, ReadStack | null>> {
  const found = new Map<string, ReadStack | null>(ids.map((id) => [id, null]));
  for (const r of await rowsOf<ReadRow>(db, READ_STACKS, [ids])) found.set(r.id, toRead(r));
  return found;
}

/** Reads a stack without locking it (one statement, no transaction block); null when it does not exist. */
export async function readStack(db: Runner, id: string): Promise<ReadStack | null> {
  const first = (await rowsOf<ReadRow>(db, READ_STACK, [id]))[0];
  return first ? toRead(first) : null;
}

/** The locked row, and whether this transaction just inserted it (a provisional INIT row). */
export interface LockedStack {
  row: StackRow | null;
  created: boolean;
}

/**
 * Locks the stack's row for this transaction. When the stack does not exist and the event names
 * a machine, a provisional INIT row is inserted (ON CONFLICT DO NOTHING), which locks it just the
 * same; the caller deletes it again if the event is not applied. `insertFirst` tries the insert
 * before the select (one statement when the event usually starts a stack).
 */
export async function lockStack(
  trx: Transaction<Database>,
  id: string,
  machine: string | undefined,
  insertFirst: boolean,
): Promise<LockedStack> {
  // A concurrent creator may commit, or delete its provisional row, between our two statements.
  for (let attempt = 0; attempt < 5; attempt++) {
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
  throw new DatabaseError(`could not lock or create stack ${id}: it kept appearing and disappearing`);
}

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

/** Deletes the stack row (a provisional row whose event was not applied). */
export async function deleteStack(trx: Transaction<Database>, id: string): Promise<void> {
  await trx.deleteFrom("stacks").where("id", "=", id).execute();
}
