// Read side for the dashboard: filtered, keyset-paged stack lists, counts, history pages, machine
// versions and the change cursor. Read-only statements only, so a read-only role can serve them.
import type { Stack } from "@stackseam/core";
import { type Kysely, type SqlBool, sql } from "kysely";
import type { HistoryEntry } from "./queries.js";
import type { Database } from "./schema.js";
import { toStack } from "./stack-rows.js";

/**
 * How the stacks page can be ordered: by id, or by last activity (`active_at`, the last event from
 * outside), newest or oldest first. Each order is served by an index (the primary key, and
 * `stacks_active_at`) and ends with the id, so keyset paging is exact and page 2,000 costs what
 * page 1 costs.
 */
export const STACK_SORTS = ["id", "-active", "active"] as const;
export type StackSort = (typeof STACK_SORTS)[number];

/** Filters of the stacks page; absent ones do not filter. */
export interface StackFilter {
  machine?: string;
  state?: string;
  /** Only stacks with a task in ERROR. */
  failed?: boolean;
  /** Only stacks without an event from outside for longer than this many seconds. */
  idleSeconds?: number;
  /** Case-insensitive substring of the id or of any metadata value. */
  text?: string;
}

export interface SearchStacksOptions extends StackFilter {
  sort?: StackSort;
  /** An opaque cursor from a previous page's `next`. */
  after?: string;
  /** Page size (default 50, at most 500). */
  limit?: number;
}

export interface StackPage {
  stacks: Stack[];
  /** The cursor of the next page, or null on the last page. */
  next: string | null;
}

/** Whether a string names a sort of the stacks page. */
export function isStackSort(value: string): value is StackSort {
  return (STACK_SORTS as readonly string[]).includes(value);
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

// How Postgres writes a character inside a JSON string (jsonb's text output): the same
// characters escaped the same way, so text inside a value is text inside its escaped form.
const JSON_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

const SIGMA = /[\u03a3\u03c2\u03c3]/;

/** `text` as it appears inside a JSON string in Postgres's output of a jsonb value. */
export function jsonEscaped(text: string): string {
  let out = "";
  for (const c of text) {
    const code = c.charCodeAt(0);
    out += JSON_ESCAPES[c] ?? (code < 0x20 ? `\\u${code.toString(16).padStart(4, "0")}` : c);
  }
  return out;
}

function filterSql(f: StackFilter) {
  const parts = [];
  if (f.machine !== undefined) parts.push(sql<SqlBool>`machine = ${f.machine}`);
  if (f.state !== undefined) parts.push(sql<SqlBool>`state = ${f.state}`);
  if (f.failed) parts.push(sql<SqlBool>`tasks @> '[{"status":"ERROR"}]'::jsonb`);
  if (f.idleSeconds !== undefined) {
    // Idle counts from the last event from outside; a row from before active_at was kept counts
    // from its last update. Written as an OR so that the active_at index serves it.
    const cutoff = sql`now() - make_interval(secs => ${f.idleSeconds})`;
    parts.push(sql<SqlBool>`(active_at < ${cutoff} OR (active_at IS NULL AND updated_at < ${cutoff}))`);
  }
  if (f.text !== undefined && f.text !== "") {
    const pattern = likePattern(f.text);
    // The trigram index (migration 011) holds the id and the metadata's values as a JSON array,
    // where a string appears escaped: the text is looked for as typed and, when escaping changes
    // it, escaped.
    // That only narrows the rows; the id and each value are then checked on their own, so a
    // match never spans two values.
    const exact = sql<SqlBool>`(id ILIKE ${pattern} OR EXISTS (SELECT 1 FROM jsonb_each_text(metadata) m WHERE m.value ILIKE ${pattern}))`;
    // How a Greek sigma lower-cases depends on the letters beside it (ICU's final sigma), and in
    // the indexed text an escape can put a letter beside a value's character: a search with a
    // sigma checks the values alone.
    if (SIGMA.test(f.text)) parts.push(exact);
    else {
      const escaped = jsonEscaped(f.text);
      const searched = sql`stackseam_search_text(id, metadata)`;
      const indexed =
        escaped === f.text
          ? sql<SqlBool>`${searched} ILIKE ${pattern}`
          : sql<SqlBool>`(${searched} ILIKE ${pattern} OR ${searched} ILIKE ${likePattern(escaped)})`;
      parts.push(sql<SqlBool>`${indexed} AND ${exact}`);
    }
  }
  return parts.length === 0 ? sql<SqlBool>`true` : sql<SqlBool>`${sql.join(parts, sql` AND `)}`;
}

// A cursor is the last row's sort value and id. Timestamps travel as Postgres text, which keeps
// their microseconds (a JS Date would round them away and so skip or repeat rows); null is a
// stack never active (rows from before active_at), which sort as the longest idle.
type Cursor = [string | null, string];

function encodeCursor(value: string | null, id: string): string {
  return Buffer.from(JSON.stringify([value, id])).toString("base64url");
}

function decodeCursor(cursor: string): Cursor | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      (typeof parsed[0] === "string" || parsed[0] === null) &&
      typeof parsed[1] === "string"
    )
      return [parsed[0], parsed[1]];
  } catch {
    // an unreadable cursor starts from the first page
  }
  return null;
}

/**
 * The rows after the cursor in the sort's order. Orders follow the `active_at` index both ways, so
 * a stack with no recorded activity (NULL, from before it was kept) sorts as the most recent.
 */
function keysetSql(sort: StackSort, cursor: Cursor | null) {
  if (!cursor) return sql<SqlBool>`true`;
  const [value, id] = cursor;
  if (sort === "id") return sql<SqlBool>`id > ${id}`;
  if (sort === "-active") {
    if (value === null) return sql<SqlBool>`((active_at IS NULL AND id < ${id}) OR active_at IS NOT NULL)`;
    const v = sql`${value}::timestamptz`;
    return sql<SqlBool>`(active_at <= ${v} AND (active_at < ${v} OR id < ${id}))`;
  }
  if (value === null) return sql<SqlBool>`(active_at IS NULL AND id > ${id})`;
  const v = sql`${value}::timestamptz`;
  return sql<SqlBool>`((active_at >= ${v} AND (active_at > ${v} OR id > ${id})) OR active_at IS NULL)`;
}

const ORDER = {
  id: sql`id ASC`,
  "-active": sql`active_at DESC NULLS FIRST, id DESC`,
  active: sql`active_at ASC NULLS LAST, id ASC`,
} as const;

/** One page of live stacks matching the filter, in the chosen order, by keyset. */
export async function searchStacks(db: Kysely<Database>, opts: SearchStacksOptions = {}): Promise<StackPage> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const sort = opts.sort ?? "id";
  const cursor = opts.after !== undefined ? decodeCursor(opts.after) : null;
  const result = await sql<Record<string, unknown> & { sort_value: string | null }>`
    SELECT *, ${sort === "id" ? sql`id` : sql`active_at::text`} AS sort_value FROM stacks
    WHERE ${filterSql(opts)} AND ${keysetSql(sort, cursor)}
    ORDER BY ${ORDER[sort]}
    LIMIT ${limit + 1}`.execute(db);
  const rows = result.rows;
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    stacks: page.map((row) => toStack(row as never)),
    next: rows.length > limit && last ? encodeCursor(last.sort_value, String(last.id)) : null,
  };
}

/** How many live stacks match, counted up to `cap` (a bounded scan; `capped` says there are more). */
export async function countStacks(
  db: Kysely<Database>,
  filter: StackFilter,
  cap = 1_000,
): Promise<{ count: number; capped: boolean }> {
  const result = await sql<{ n: string }>`
    SELECT count(*) AS n FROM (SELECT 1 FROM stacks WHERE ${filterSql(filter)} LIMIT ${cap + 1}) s`.execute(
    db,
  );
  const n = Number(result.rows[0]?.n ?? 0);
  return { count: Math.min(n, cap), capped: n > cap };
}

/** Live stacks per machine and state, with how many of them have a failed task. */
export interface StateCount {
  machine: string;
  state: string;
  stacks: number;
  failed: number;
}

/**
 * Counts of live stacks per machine and state: one index-only scan of `stacks_machine_state` for
 * the totals, one of the partial index `stacks_failed` for the stacks with a failed task.
 */
export async function stateCounts(db: Kysely<Database>): Promise<StateCount[]> {
  const [totals, failed] = await Promise.all([
    sql<{ machine: string; state: string; n: string }>`
      SELECT machine, state, count(*) AS n FROM stacks GROUP BY machine, state ORDER BY machine, state`.execute(
      db,
    ),
    sql<{ machine: string; state: string; n: string }>`
      SELECT machine, state, count(*) AS n FROM stacks WHERE tasks @> '[{"status":"ERROR"}]'::jsonb
      GROUP BY machine, state`.execute(db),
  ]);
  const failing = new Map(failed.rows.map((r) => [`${r.machine}\u0000${r.state}`, Number(r.n)]));
  return totals.rows.map((r) => ({
    machine: r.machine,
    state: r.state,
    stacks: Number(r.n),
    failed: failing.get(`${r.machine}\u0000${r.state}`) ?? 0,
  }));
}

export interface HistoryPageOptions {
  /** Rows older than this history id (the previous page's `older`). */
  before?: number;
  /** Page size (default 100). */
  limit?: number;
}

/** A page of a stack's history, newest first, and the cursor of the older rows. */
export interface HistoryPage {
  rows: HistoryEntry[];
  older: number | null;
}

/** A stack's history, newest first, by keyset on the history id. */
export async function historyPage(
  db: Kysely<Database>,
  stackId: string,
  opts: HistoryPageOptions = {},
): Promise<HistoryPage> {
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
  let q = db
    .selectFrom("history")
    .selectAll()
    .where("stack_id", "=", stackId)
    .orderBy("id", "desc")
    .limit(limit + 1);
  if (opts.before !== undefined) q = q.where("id", "<", String(opts.before));
  const rows = await q.execute();
  const page = rows.slice(0, limit).map(
    (r): HistoryEntry => ({
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
    }),
  );
  return { rows: page, older: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}

/** The newest history id (0 when there is none): every change to a stack writes a history row. */
export async function latestHistoryId(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom("history")
    .select((eb) => eb.fn.max("id").as("id"))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/** The stacks with history rows after `afterId` (at most `limit`; `more` when there were more). */
export async function changedStacks(
  db: Kysely<Database>,
  afterId: number,
  limit = 100,
): Promise<{ stacks: string[]; more: boolean }> {
  const rows = await db
    .selectFrom("history")
    .select("stack_id")
    .distinct()
    .where("id", ">", String(afterId))
    .limit(limit + 1)
    .execute();
  return { stacks: rows.slice(0, limit).map((r) => r.stack_id), more: rows.length > limit };
}

/** One stored machine version and how many live stacks run it. */
export interface MachineVersionInfo {
  machine: string;
  version: string;
  origin: string | null;
  firstUsedAt: string;
  stacks: number;
}

/** Every stored machine version, newest first per machine, with its live stacks. */
export async function machineVersionList(db: Kysely<Database>): Promise<MachineVersionInfo[]> {
  const result = await sql<{
    machine: string;
    version: string;
    origin: string | null;
    first_used_at: Date;
    stacks: string;
  }>`
    SELECT v.machine, v.version, v.origin, v.first_used_at, coalesce(s.n, 0) AS stacks
    FROM machine_versions v
    LEFT JOIN (SELECT machine, version, count(*) AS n FROM stacks GROUP BY machine, version) s
      ON s.machine = v.machine AND s.version = v.version
    ORDER BY v.machine, v.first_used_at DESC, v.version`.execute(db);
  return result.rows.map((r) => ({
    machine: r.machine,
    version: r.version,
    origin: r.origin,
    firstUsedAt: r.first_used_at.toISOString(),
    stacks: Number(r.stacks),
  }));
}

/** A stored version's spec text and where it came from, or null when it is not stored. */
export async function machineVersionSource(
  db: Kysely<Database>,
  machine: string,
  version: string,
): Promise<{ source: string; origin: string | null } | null> {
  const row = await db
    .selectFrom("machine_versions")
    .select(["source", "origin"])
    .where("machine", "=", machine)
    .where("version", "=", version)
    .executeTakeFirst();
  return row ?? null;
}

/** The newest stored version of a machine (by first use), or null. */
export async function latestMachineVersion(db: Kysely<Database>, machine: string): Promise<string | null> {
  const row = await db
    .selectFrom("machine_versions")
    .select("version")
    .where("machine", "=", machine)
    .orderBy("first_used_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.version ?? null;
}

/** A persisted due time of a stack (the `timers` table, when the schema has it). */
export interface TimerRow {
  name: string;
  dueAt: string;
}

/** The stack's persisted timers, soonest first; empty when the database has no `timers` table yet. */
export async function stackTimers(db: Kysely<Database>, stackId: string): Promise<TimerRow[]> {
  const exists = await sql<{ t: string | null }>`SELECT to_regclass('timers')::text AS t`.execute(db);
  if (!exists.rows[0]?.t) return [];
  const result = await sql<{ name: string; due_at: Date }>`
    SELECT name, due_at FROM timers WHERE stack_id = ${stackId} ORDER BY due_at`.execute(db);
  return result.rows.map((r) => ({ name: r.name, dueAt: new Date(r.due_at).toISOString() }));
}

/** Whether the stack's history already holds an event with this key (the event was processed). */
export async function hasEventKey(db: Kysely<Database>, stackId: string, eventKey: string): Promise<boolean> {
  const row = await db
    .selectFrom("history")
    .select("id")
    .where("stack_id", "=", stackId)
    .where("event_key", "=", eventKey)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
