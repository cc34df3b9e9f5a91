import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { MAX_TASK_MESSAGE_BYTES } from "@stackseam/core";
import { type Kysely, sql } from "kysely";
import { inTransaction, PREPARED, rowsOf } from "./database.js";
import { DatabaseError, OutboxSendError } from "./errors.js";
import type { Database } from "./schema.js";

/** SQS's per-batch payload limit equals its per-message one (256 KiB), which core checks each message against. */
export const MAX_SQS_BYTES = MAX_TASK_MESSAGE_BYTES;
const MAX_BATCH_ENTRIES = 10;

export interface FlushTarget {
  db: Kysely<Database>;
  sqs: SQSClient;
  queueUrl: string;
}

/** What a flush of several stacks did. */
export interface FlushResult {
  /** Task messages sent (and marked sent). */
  sent: number;
  /** Stacks whose unsent rows could not be sent (or may not have been): their events must be retried. */
  unsentStacks: Set<string>;
  /** Why, when unsentStacks is not empty. */
  error: OutboxSendError | DatabaseError | null;
}

// A round's statements, as the event path sends them (raw, prepared; see rowsOf and PREPARED).
const CLAIM = `${PREPARED}SELECT id, stack_id, body FROM outbox
  WHERE stack_id = ANY($1::text[]) AND sent_at IS NULL AND id <> ALL($2::bigint[])
  ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`;
const MARK_SENT = `${PREPARED}UPDATE outbox SET sent_at = $1, message_id = v.message_id
  FROM unnest($2::bigint[], $3::text[]) AS v(id, message_id)
  WHERE outbox.id = v.id`;

interface Claimed {
  id: string;
  stack_id: string;
  body: string;
}

/**
 * Sends the unsent task messages of the given stacks and marks them sent, up to 10 per
 * SendMessageBatch. Rows are claimed with `FOR UPDATE SKIP LOCKED` for the duration of the send,
 * so two concurrent flushers never send the same row (a row another flusher holds is its to send).
 * Never throws: stacks left with unsent rows after a failure are returned in `unsentStacks`.
 * With `probe`, one plain query first checks whether there is anything to send at all.
 */
export async function flushStacks(
  target: FlushTarget,
  stackIds: Iterable<string>,
  opts: { probe?: boolean } = {},
): Promise<FlushResult> {
  const ids = [...new Set(stackIds)];
  const result: FlushResult = { sent: 0, unsentStacks: new Set(), error: null };
  if (ids.length === 0) return result;
  // Rows SQS refused in an earlier round: not claimed again by this flush.
  const refused: string[] = [];
  const refusals: string[] = [];
  try {
    if (opts.probe) {
      const { rows } = await sql<{ id: string }>`${sql.raw(PREPARED)}
        SELECT id FROM outbox WHERE stack_id = ANY(${ids}::text[]) AND sent_at IS NULL LIMIT 1`.execute(
        target.db,
      );
      if (rows.length === 0) return result;
    }
    for (;;) {
      const round = await inTransaction(target.db, async (trx) => {
        const rows = await rowsOf<Claimed>(trx, CLAIM, [ids, refused, MAX_BATCH_ENTRIES + 1]);
        if (rows.length === 0) return { claimed: 0, batched: 0 };
        // One row more than a send takes tells whether another round is needed, without a round
        // that finds nothing (three statements) after every full batch.
        const batch: Claimed[] = [];
        let bytes = 0;
        for (const row of rows) {
          const size = Buffer.byteLength(row.body, "utf8");
          if (batch.length === MAX_BATCH_ENTRIES || (batch.length > 0 && bytes + size > MAX_SQS_BYTES)) break;
          batch.push(row);
          bytes += size;
        }
        let response: SendMessageBatchCommandOutput;
        try {
          response = await target.sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: target.queueUrl,
              Entries: batch.map((row) => ({ Id: `m${row.id}`, MessageBody: row.body })),
            }),
          );
        } catch (cause) {
          const stacks = [...new Set(batch.map((r) => r.stack_id))].join(", ");
          throw new OutboxSendError(`cannot send task messages for stack(s) ${stacks}`, {
            cause,
          });
        }
        const sentIds: string[] = [];
        const messageIds: (string | null)[] = [];
        for (const ok of response.Successful ?? []) {
          if (!ok.Id) continue;
          sentIds.push(ok.Id.slice(1));
          messageIds.push(ok.MessageId ?? null);
        }
        if (sentIds.length > 0) {
          await rowsOf(trx, MARK_SENT, [new Date(), sentIds, messageIds]);
        }
        const byId = new Map(batch.map((r) => [`m${r.id}`, r]));
        for (const f of response.Failed ?? []) {
          const row = f.Id ? byId.get(f.Id) : undefined;
          if (row) {
            refused.push(row.id);
            result.unsentStacks.add(row.stack_id);
          }
          refusals.push(`${f.Id}: ${f.Code ?? "error"} ${f.Message ?? ""}`.trim());
        }
        result.sent += sentIds.length;
        return { claimed: rows.length, batched: batch.length };
      });
      // Done when a round sent every row it claimed (it claims one more than a send takes).
      if (round.batched === round.claimed) break;
    }
  } catch (err) {
    result.error =
      err instanceof OutboxSendError ? err : new DatabaseError("cannot flush the outbox", { cause: err });
    // Which stacks still wait? If even that cannot be read, assume all of them.
    try {
      const { rows } = await sql<{ stack_id: string }>`
        SELECT DISTINCT stack_id FROM outbox WHERE stack_id = ANY(${ids}::text[]) AND sent_at IS NULL`.execute(
        target.db,
      );
      for (const r of rows) result.unsentStacks.add(r.stack_id);
    } catch {
      for (const id of ids) result.unsentStacks.add(id);
    }
    return result;
  }
  if (refusals.length > 0) {
    result.error = new OutboxSendError(
      `${refusals.length} task message(s) for stack(s) ${[...result.unsentStacks].join(", ")} were not accepted by SQS: ${refusals.join("; ")}`,
    );
  }
  return result;
}
