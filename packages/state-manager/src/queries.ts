// Read side of the repository: the queries behind `stackseam stacks` and the dashboard.
import type { Outcome, Stack } from "@stackseam/core";
import type { Kysely } from "kysely";
import type { Database } from "./schema.js";
import { toStack } from "./stack-rows.js";

export interface ListStacksOptions {
  machine?: string;
  state?: string;
  /** At most this many rows (default 100). */
  limit?: number;
  /** Return stacks whose id sorts after this one (keyset paging). */
  after?: string;
}

/** Lists live stacks ordered by id, with their tasks. */
export async function listStacks(db: Kysely<Database>, opts: ListStacksOptions = {}): Promise<Stack[]> {
  let q = db
    .selectFrom("stacks")
    .selectAll()
    .orderBy("id")
    .limit(opts.limit ?? 100);
  if (opts.machine !== undefined) q = q.where("machine", "=", opts.machine);
  if (opts.state !== undefined) q = q.where("state", "=", opts.state);
  if (opts.after !== undefined) q = q.where("id", ">", opts.after);
  return (await q.execute()).map((row) => toStack(row));
}

/** One live stack with its tasks, or null when it does not exist (never created, or removed). */
export async function getStack(db: Kysely<Database>, id: string): Promise<Stack | null> {
  const row = await db.selectFrom("stacks").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? toStack(row) : null;
}

/** One history row, as operators read it. */
export interface HistoryEntry {
  id: number;
  stackId: string;
  machine: string | null;
  event: string | null;
  eventKey: string;
  outcome: Outcome;
  reason: string | null;
  from: string | null;
  to: string | null;
  path: string[];
  task: string | null;
  token: string | null;
  duplicate: boolean;
  detail: Record<string, unknown> | null;
  at: string;
}

export interface HistoryOptions {
  /** The newest this many rows (default 200), still returned oldest first. */
  limit?: number;
  /** Only rows with a larger id, and then the oldest `limit` of them (for following a history). */
  after?: number;
}

/** The stack's history, oldest first; it outlives the stack. */
export async function getHistory(
  db: Kysely<Database>,
  id: string,
  opts: HistoryOptions = {},
): Promise<HistoryEntry[]> {
  const limit = opts.limit ?? 200;
  const q = db.selectFrom("history").selectAll().where("stack_id", "=", id);
  const rows =
    opts.after === undefined
      ? (await q.orderBy("id", "desc").limit(limit).execute()).reverse()
      : await q.where("id", ">", String(opts.after)).orderBy("id", "asc").limit(limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    stackId: r.stack_id,
    machine: r.machine,
    event: r.event,
    eventKey: r.event_key,
    outcome: r.outcome,
    reason: r.reason,
    from: r.from_state,
    to: r.to_state,
    path: r.path ?? [],
    task: r.task,
    token: r.token,
    duplicate: r.duplicate,
    detail: r.detail,
    at: r.created_at.toISOString(),
  }));
}
