// Read side of time: the timers and schedules the tick fires, as `stackseam timers`, `stacks show`
// and `stackseam tick` read them. Read-only; the tick and the event path own every write.
import { type Machine, parseSpec } from "@stackseam/core";
import { type Kysely, sql } from "kysely";
import { MigrationError } from "./errors.js";
import type { Database } from "./schema.js";

/** One persisted due time, with the stack it belongs to (null fields: the stack is gone). */
export interface TimerListing {
  stackId: string;
  /** `timeout:<task>`, `retry:<task>`, `ttl` or `ttl-warning`. */
  name: string;
  dueAt: string;
  /** Set while a tick holds the timer (it is being fired, or a failed firing waits for its lease). */
  claimedUntil: string | null;
  machine: string | null;
  version: string | null;
  state: string | null;
}

export interface ListTimersOptions {
  /** Only timers due at or before this time. */
  dueBy?: Date;
  /** Only timers of this stack. */
  stackId?: string;
  /** At most this many rows (default 100). */
  limit?: number;
}

/** One machine schedule as the tick keeps it: the next occurrence it fires. */
export interface ScheduleListing {
  machine: string;
  name: string;
  cron: string;
  timezone: string;
  event: string;
  states: string[];
  /** The next occurrence to fire; null when the pattern has none (stored as infinity). */
  nextAt: string | null;
  /** Set while a firing is under way (the last stack id it reached). */
  cursor: string | null;
  claimedUntil: string | null;
}

/** A database from before the timers (migration 004) is refused with what fixes it. */
async function requireTimeTables(db: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass('timers')::text AS t`.execute(db);
  if (!rows[0]?.t)
    throw new MigrationError(
      "the database has no timers table (migration 004_time.sql is not applied): run `stackseam migrate`",
    );
}

// pg reads timestamptz 'infinity' (a schedule with no next occurrence) as the number Infinity, not a Date.
const iso = (d: Date | number | null): string | null =>
  d instanceof Date && Number.isFinite(d.getTime()) ? d.toISOString() : null;

/**
 * Timers across stacks, soonest first (ties by stack and name), read through the due-time index:
 * the cost follows `limit`, not the number of stacks.
 */
export async function listTimers(
  db: Kysely<Database>,
  opts: ListTimersOptions = {},
): Promise<TimerListing[]> {
  await requireTimeTables(db);
  let q = db
    .selectFrom("timers as t")
    .leftJoin("stacks as s", "s.id", "t.stack_id")
    .select(["t.stack_id", "t.name", "t.due_at", "t.claimed_until", "s.machine", "s.version", "s.state"])
    .orderBy("t.due_at")
    .orderBy("t.stack_id")
    .orderBy("t.name")
    .limit(opts.limit ?? 100);
  if (opts.dueBy !== undefined) q = q.where("t.due_at", "<=", opts.dueBy);
  if (opts.stackId !== undefined) q = q.where("t.stack_id", "=", opts.stackId);
  const rows = await q.execute();
  return rows.map((r) => ({
    stackId: r.stack_id,
    name: r.name,
    dueAt: r.due_at.toISOString(),
    claimedUntil: iso(r.claimed_until),
    machine: r.machine,
    version: r.version,
    state: r.state,
  }));
}

/** How many timers are due at or before `dueBy` (for "N more" lines). */
export async function countDueTimers(db: Kysely<Database>, dueBy: Date): Promise<number> {
  await requireTimeTables(db);
  const row = await db
    .selectFrom("timers")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("due_at", "<=", dueBy)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The machines' schedules, next occurrence first (the tick writes them from the current specs). */
export async function listSchedules(
  db: Kysely<Database>,
  opts: { dueBy?: Date } = {},
): Promise<ScheduleListing[]> {
  await requireTimeTables(db);
  let q = db
    .selectFrom("schedules")
    .select(["machine", "name", "cron", "timezone", "event", "states", "next_at", "cursor", "claimed_until"])
    .orderBy("next_at")
    .orderBy("machine")
    .orderBy("name");
  if (opts.dueBy !== undefined) q = q.where("next_at", "<=", opts.dueBy);
  const rows = await q.execute();
  return rows.map((r) => ({
    machine: r.machine,
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    event: r.event,
    states: r.states,
    nextAt: iso(r.next_at),
    cursor: r.cursor,
    claimedUntil: iso(r.claimed_until),
  }));
}

/**
 * The machine a stack runs, compiled from its stored version (machine_versions), or null when that
 * version is not stored or no longer compiles. What the State Manager decides by, without specs.
 */
export async function storedMachine(
  db: Kysely<Database>,
  machine: string,
  version: string,
): Promise<Machine | null> {
  if (version === "") return null;
  const row = await db
    .selectFrom("machine_versions")
    .select("source")
    .where("machine", "=", machine)
    .where("version", "=", version)
    .executeTakeFirst();
  if (!row) return null;
  return parseSpec(row.source, { name: machine }).machine;
}
