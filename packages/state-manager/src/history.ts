// Repository layer: history rows (the event log and idempotency record). Typed functions over Kysely | Transaction.
import type { Outcome } from "@stackseam/core";
import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema.js";

/** One history row to write; see migrations/001_init.sql for what each column means. */
export interface HistoryRecord {
  stackId: string;
  machine: string | null;
  event: string | null;
  eventKey: string;
  outcome: Outcome;
  reason?: string | null;
  from?: string | null;
  to?: string | null;
  path?: string[] | null;
  task?: string | null;
  token?: string | null;
  detail?: Record<string, unknown> | null;
}

// Reasons quote whole schema errors at times; a history row should stay readable.
const MAX_REASON = 4000;

function clip(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}…` : text;
}

/**
 * Writes a history row. The first row for (stack, event key) is the event's processing; if one
 * already exists (a concurrent duplicate we could not lock out) the row is written as a duplicate.
 * Returns whether the row was the first for its key.
 */
export async function insertHistory(
  db: Kysely<Database> | Transaction<Database>,
  rec: HistoryRecord,
): Promise<boolean> {
  if (await insertFirstHistory(db, rec)) return true;
  await insertDuplicateOf(db, rec);
  return false;
}

/** Writes rec as a duplicate: the row for a key whose first row exists (see insertHistory). */
export async function insertDuplicateOf(
  db: Kysely<Database> | Transaction<Database>,
  rec: HistoryRecord,
): Promise<void> {
  await db
    .insertInto("history")
    .values({
      ...historyRow(rec),
      outcome: "ignored",
      reason: duplicateReason(rec.eventKey),
      duplicate: true,
    })
    .execute();
}

/** Writes the row only if it is the first for its (stack, event key); returns whether it was. */
export async function insertFirstHistory(
  db: Kysely<Database> | Transaction<Database>,
  rec: HistoryRecord,
): Promise<boolean> {
  const inserted = await db
    .insertInto("history")
    .values(historyRow(rec))
    .onConflict((oc) => oc.columns(["stack_id", "event_key"]).where("duplicate", "=", false).doNothing())
    .returning("id")
    .executeTakeFirst();
  return inserted !== undefined;
}

/** The history columns of rec (path as an array, detail as JSON text). */
export function historyRow(rec: HistoryRecord) {
  return {
    stack_id: rec.stackId,
    machine: rec.machine,
    event: rec.event,
    event_key: rec.eventKey,
    outcome: rec.outcome,
    reason: clip(rec.reason),
    from_state: rec.from ?? null,
    to_state: rec.to ?? null,
    path: rec.path ?? null,
    task: rec.task ?? null,
    token: rec.token ?? null,
    detail: rec.detail ? JSON.stringify(rec.detail) : null,
  };
}

/** Writes the row for a redelivered event: ignored, flagged duplicate. */
export async function insertDuplicate(
  db: Kysely<Database> | Transaction<Database>,
  rec: Omit<HistoryRecord, "outcome" | "reason">,
): Promise<void> {
  await db
    .insertInto("history")
    .values({
      stack_id: rec.stackId,
      machine: rec.machine,
      event: rec.event,
      event_key: rec.eventKey,
      outcome: "ignored",
      reason: duplicateReason(rec.eventKey),
      from_state: rec.from ?? null,
      to_state: rec.from ?? null,
      task: rec.task ?? null,
      token: rec.token ?? null,
      duplicate: true,
    })
    .execute();
}

/** Whether an event with this key was already processed for this stack. */
export async function alreadyProcessed(
  trx: Transaction<Database>,
  stackId: string,
  eventKey: string,
): Promise<boolean> {
  const row = await trx
    .selectFrom("history")
    .select("id")
    .where("stack_id", "=", stackId)
    .where("event_key", "=", eventKey)
    .where("duplicate", "=", false)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export function duplicateReason(eventKey: string): string {
  return `duplicate: event key ${eventKey} was already processed for this stack`;
}
