// Repository layer: the notifications outbox (migrations/005_notifications.sql) as the sender uses
// it. A row is claimed by moving its next attempt a lease ahead and counting the attempt, in one
// statement with FOR UPDATE SKIP LOCKED: two senders (a batch and the tick, two containers) never
// hold the same row, and a sender that dies leaves its rows to come due again when the lease ends.
import type { Notification, NotificationBody } from "@stackseam/core";
import { type Kysely, sql } from "kysely";
import type { Database } from "../schema.js";

/** A claimed notification: `attempts` counts this attempt. */
export interface ClaimedNotification {
  id: string;
  stack_id: string;
  event_key: string;
  target: string;
  kind: string;
  destination: Notification["destination"];
  body: NotificationBody;
  attempts: number;
}

export interface ClaimOptions {
  now: Date;
  leaseMs: number;
  limit: number;
  /** Only these stacks' notifications (a batch sends what it wrote). */
  stackIds?: readonly string[];
  /** Leave notifications to these destinations alone (targets cooling down after a failure). */
  skipDestinations?: readonly Notification["destination"][];
}

/**
 * Claims due notifications, oldest due first. Due: not sent, not given up, and its next attempt
 * time has come — or never attempted at all, so that a row is due as soon as it is written even
 * when this container's clock runs behind the database's (`next_attempt_at` defaults to the
 * database's now()).
 */
export async function claimDue(db: Kysely<Database>, o: ClaimOptions): Promise<ClaimedNotification[]> {
  const leaseUntil = new Date(o.now.getTime() + o.leaseMs);
  const due = sql`sent_at IS NULL AND failed_at IS NULL AND (attempts = 0 OR next_attempt_at <= ${o.now})`;
  const byStack = o.stackIds ? sql`AND stack_id = ANY(${[...o.stackIds]}::text[])` : sql``;
  const skip =
    o.skipDestinations && o.skipDestinations.length > 0
      ? sql`AND NOT (destination = ANY(${o.skipDestinations.map((d) => JSON.stringify(d))}::jsonb[]))`
      : sql``;
  const { rows } = await sql<ClaimedNotification>`
    UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ${leaseUntil}
    WHERE id IN (
      SELECT id FROM notifications
      WHERE ${due} ${byStack} ${skip}
      ORDER BY next_attempt_at, id
      LIMIT ${o.limit}
      FOR UPDATE SKIP LOCKED)
    AND ${due}
    RETURNING id::text AS id, stack_id, event_key, target, kind, destination, body, attempts`.execute(db);
  return rows.sort((a, b) => Number(a.id) - Number(b.id));
}

/** Marks a claimed row sent (unless another sender took it over after our lease ran out). */
export async function markSent(db: Kysely<Database>, row: ClaimedNotification, now: Date): Promise<void> {
  await sql`UPDATE notifications SET sent_at = ${now}
            WHERE id = ${row.id} AND attempts = ${row.attempts} AND sent_at IS NULL`.execute(db);
}

/** Schedules the next attempt of a claimed row, recording why this one failed. */
export async function scheduleRetry(
  db: Kysely<Database>,
  row: ClaimedNotification,
  at: Date,
  error: string,
): Promise<void> {
  await sql`UPDATE notifications SET next_attempt_at = ${at}, last_error = ${error}
            WHERE id = ${row.id} AND attempts = ${row.attempts} AND sent_at IS NULL`.execute(db);
}

/** Gives a claimed row up: it is never tried again by itself. */
export async function markFailed(
  db: Kysely<Database>,
  row: ClaimedNotification,
  now: Date,
  error: string,
): Promise<void> {
  await sql`UPDATE notifications SET failed_at = ${now}, last_error = ${error}
            WHERE id = ${row.id} AND attempts = ${row.attempts} AND sent_at IS NULL`.execute(db);
}
