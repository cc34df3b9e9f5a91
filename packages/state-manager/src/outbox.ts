import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Kysely } from "kysely";
import { StateManagerError } from "./errors.js";
import type { Database } from "./schema.js";

/** SQS's per-message and per-batch payload limit (256 KiB), which every queue accepts. */
export const MAX_SQS_BYTES = 262_144;
const MAX_BATCH_ENTRIES = 10;

export interface FlushTarget {
  db: Kysely<Database>;
  sqs: SQSClient;
  queueUrl: string;
}

/**
 * Sends the stack's unsent task messages and marks them sent. Rows are claimed with
 * `FOR UPDATE SKIP LOCKED` for the duration of the send, so two concurrent flushers never send
 * the same row. Throws (transient) when any message could not be sent; what was sent stays marked.
 */
export async function flushOutbox(target: FlushTarget, stackId: string): Promise<number> {
  let total = 0;
  for (;;) {
    const round = await target.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom("outbox")
        .select(["id", "body"])
        .where("stack_id", "=", stackId)
        .where("sent_at", "is", null)
        .orderBy("id")
        .limit(MAX_BATCH_ENTRIES)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return { claimed: 0, sent: 0, failures: [] as string[] };
      const batch: typeof rows = [];
      let bytes = 0;
      for (const row of rows) {
        const size = Buffer.byteLength(row.body, "utf8");
        if (batch.length > 0 && bytes + size > MAX_SQS_BYTES) break;
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
        throw new StateManagerError("OUTBOX_SEND", `cannot send task messages for stack ${stackId}`, {
          cause,
        });
      }
      const sentAt = new Date();
      for (const ok of response.Successful ?? []) {
        if (!ok.Id) continue;
        await trx
          .updateTable("outbox")
          .set({ sent_at: sentAt, message_id: ok.MessageId ?? null })
          .where("id", "=", ok.Id.slice(1))
          .execute();
      }
      const failures = (response.Failed ?? []).map((f) =>
        `${f.Id}: ${f.Code ?? "error"} ${f.Message ?? ""}`.trim(),
      );
      return { claimed: rows.length, sent: response.Successful?.length ?? 0, failures };
    });
    total += round.sent;
    if (round.failures.length > 0) {
      throw new StateManagerError(
        "OUTBOX_SEND",
        `${round.failures.length} task message(s) for stack ${stackId} were not accepted by SQS: ${round.failures.join("; ")}`,
      );
    }
    if (round.claimed < MAX_BATCH_ENTRIES && round.sent === round.claimed) return total;
    if (round.claimed === 0) return total;
  }
}

/** Whether the stack has task messages waiting to be sent. */
export async function hasUnsent(db: Kysely<Database>, stackId: string): Promise<boolean> {
  const row = await db
    .selectFrom("outbox")
    .select("id")
    .where("stack_id", "=", stackId)
    .where("sent_at", "is", null)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
