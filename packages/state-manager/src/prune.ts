// Repository layer: bounded growth. Deletes history rows, sent task messages and finished
// notifications older than a retention, in small batches that each commit on their own, so no
// statement holds locks for long and events keep flowing while it runs.
//
// History doubles as the idempotency record: an event whose history row was pruned is applied
// again if it is delivered again. The retention is therefore also the idempotency window (see
// docs/operations.md, "Pruning").
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.js";

/** What to prune: each table is pruned only when its retention is given (milliseconds). */
export interface PruneOptions {
  /** History rows created longer ago than this. */
  historyOlderThanMs?: number;
  /** Task messages sent longer ago than this (unsent ones are never touched). */
  outboxOlderThanMs?: number;
  /** Notifications sent or given up longer ago than this (pending ones are never touched). */
  notificationsOlderThanMs?: number;
  /** Rows looked at per statement (default 5,000): each batch is one short transaction. */
  batchSize?: number;
  /** Milliseconds to wait between batches, leaving the database to other work (default 0). */
  pauseMs?: number;
  /** The clock (default: now). */
  now?: Date;
  /** Told after every batch: the table, the rows it deleted, how long it took. */
  onBatch?(table: PrunedTable, deleted: number, ms: number): void;
}

export type PrunedTable = "history" | "outbox" | "notifications";

/** What a prune did. */
export interface PruneResult {
  deleted: Record<PrunedTable, number>;
  batches: number;
  /** The longest single batch (statement), in ms: how long any row lock was held. */
  longestBatchMs: number;
  ms: number;
}

export const DEFAULT_PRUNE_BATCH = 5_000;

// Each table is walked along its primary key (ids rise with insertion time) from a cursor, so a
// batch never scans the rows earlier batches deleted. A batch deletes the rows of its id range that
// are old enough; the walk stops at the first batch whose rows were all created after the cutoff
// (later ids are newer still). A row is judged by its own timestamp, never by its id alone.
const BATCH = {
  history: (after: string, n: number, cutoff: Date) => sql<Batch>`
    WITH b AS (SELECT id, created_at FROM history WHERE id > ${after}::bigint ORDER BY id LIMIT ${n}),
    d AS (DELETE FROM history h USING b WHERE h.id = b.id AND b.created_at < ${cutoff} RETURNING 1)
    SELECT max(b.id)::text AS last, bool_or(b.created_at < ${cutoff}) AS old, (SELECT count(*) FROM d)::int AS deleted
    FROM b`,
  outbox: (after: string, n: number, cutoff: Date) => sql<Batch>`
    WITH b AS (SELECT id, created_at, sent_at FROM outbox WHERE id > ${after}::bigint ORDER BY id LIMIT ${n}),
    d AS (DELETE FROM outbox o USING b WHERE o.id = b.id AND b.sent_at < ${cutoff} RETURNING 1)
    SELECT max(b.id)::text AS last, bool_or(b.created_at < ${cutoff}) AS old, (SELECT count(*) FROM d)::int AS deleted
    FROM b`,
  notifications: (after: string, n: number, cutoff: Date) => sql<Batch>`
    WITH b AS (SELECT id, created_at, sent_at, failed_at FROM notifications WHERE id > ${after}::bigint ORDER BY id LIMIT ${n}),
    d AS (DELETE FROM notifications x USING b WHERE x.id = b.id
            AND (b.sent_at < ${cutoff} OR (b.sent_at IS NULL AND b.failed_at < ${cutoff})) RETURNING 1)
    SELECT max(b.id)::text AS last, bool_or(b.created_at < ${cutoff}) AS old, (SELECT count(*) FROM d)::int AS deleted
    FROM b`,
} as const;

interface Batch {
  last: string | null;
  old: boolean | null;
  deleted: number;
}

/**
 * Deletes what is older than the given retentions, batch by batch (each an autocommit statement
 * over at most `batchSize` rows of one table). Safe while events flow: it locks only the old rows
 * it deletes, which nothing else writes. An event whose history row it deletes is no longer
 * recognised as a duplicate.
 */
export async function prune(db: Kysely<Database>, opts: PruneOptions): Promise<PruneResult> {
  const started = performance.now();
  const now = opts.now ?? new Date();
  const n = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_PRUNE_BATCH));
  const result: PruneResult = {
    deleted: { history: 0, outbox: 0, notifications: 0 },
    batches: 0,
    longestBatchMs: 0,
    ms: 0,
  };
  const retentions: [PrunedTable, number | undefined][] = [
    ["history", opts.historyOlderThanMs],
    ["outbox", opts.outboxOlderThanMs],
    ["notifications", opts.notificationsOlderThanMs],
  ];
  for (const [table, olderThan] of retentions) {
    if (olderThan === undefined) continue;
    const cutoff = new Date(now.getTime() - olderThan);
    for (let after = "0"; ; ) {
      const t0 = performance.now();
      const { rows } = await BATCH[table](after, n, cutoff).execute(db);
      const ms = performance.now() - t0;
      const batch = rows[0];
      if (!batch || batch.last === null) break;
      result.batches += 1;
      result.deleted[table] += batch.deleted;
      result.longestBatchMs = Math.max(result.longestBatchMs, ms);
      opts.onBatch?.(table, batch.deleted, ms);
      if (!batch.old) break;
      after = batch.last;
      if (opts.pauseMs) await new Promise((resolve) => setTimeout(resolve, opts.pauseMs));
    }
  }
  result.ms = performance.now() - started;
  return result;
}
