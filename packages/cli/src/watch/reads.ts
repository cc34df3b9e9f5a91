import type { Outcome } from "@stackseam/core";
import { type Database, getHistory, type HistoryEntry } from "@stackseam/state-manager";
import type { Kysely } from "kysely";

// The reads a wait makes at each wake-up; all of them are index lookups on (stack_id, id), the
// stack's primary key or (stack_id, event_key).

/** The id of the stack's newest history row, 0 when it has none: where following starts. */
export async function latestHistoryId(db: Kysely<Database>, stackId: string): Promise<number> {
  const row = await db
    .selectFrom("history")
    .select("id")
    .where("stack_id", "=", stackId)
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.id) : 0;
}

/** Every row after `after`, oldest first (in pages, so a burst of events is read whole). */
export async function historyAfter(
  db: Kysely<Database>,
  stackId: string,
  after: number,
): Promise<HistoryEntry[]> {
  const page = 500;
  const out: HistoryEntry[] = [];
  for (let cursor = after; ; ) {
    const rows = await getHistory(db, stackId, { after: cursor, limit: page });
    out.push(...rows);
    if (rows.length < page) return out;
    cursor = rows.at(-1)?.id ?? cursor;
  }
}

/** What the history says of one event: its own row, and rows derived from it (`<key>#…`). */
export interface EventRow {
  id: number;
  eventKey: string;
  event: string | null;
  outcome: Outcome;
  reason: string | null;
  from: string | null;
  detail: Record<string, unknown> | null;
}

/**
 * The rows an event key has produced: the event's first (non-duplicate) row, and rows whose key
 * the engine derived from it (an automatic upgrade `<key>#upgrade`, a deferred event applied or
 * refused later), oldest first. Empty while the event is still in the queue.
 */
export async function rowsOfEvent(db: Kysely<Database>, stackId: string, key: string): Promise<EventRow[]> {
  const rows = await db
    .selectFrom("history")
    .select(["id", "event_key", "event", "outcome", "reason", "from_state", "detail"])
    .where("stack_id", "=", stackId)
    .where("duplicate", "=", false)
    .where((eb) => eb.or([eb("event_key", "=", key), eb("event_key", "like", `${likeEscape(key)}#%`)]))
    .orderBy("id")
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    eventKey: r.event_key,
    event: r.event,
    outcome: r.outcome,
    reason: r.reason,
    from: r.from_state,
    detail: r.detail,
  }));
}

/** The stack's last applied row: whether a missing stack was removed, and by what. */
export async function lastApplied(db: Kysely<Database>, stackId: string): Promise<HistoryEntry | null> {
  const row = await db
    .selectFrom("history")
    .select("id")
    .where("stack_id", "=", stackId)
    .where("outcome", "=", "applied")
    .where("duplicate", "=", false)
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!row) return null;
  const [entry] = await getHistory(db, stackId, { after: Number(row.id) - 1, limit: 1 });
  return entry ?? null;
}

/** An event key as a LIKE prefix: its own %, _ and \ match themselves. */
function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Converts an event row as `rowsOfEvent` reads it from a followed history entry. */
export function eventRowOf(h: HistoryEntry): EventRow {
  return {
    id: h.id,
    eventKey: h.eventKey,
    event: h.event,
    outcome: h.outcome,
    reason: h.reason,
    from: h.from,
    detail: h.detail,
  };
}
