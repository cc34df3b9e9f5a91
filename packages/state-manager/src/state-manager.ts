import { randomUUID } from "node:crypto";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { type Deps, type EngineEvent, parseEventMessage } from "@stackseam/core";
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Kysely } from "kysely";
import { insertHistory } from "./history.js";
import { createLogger } from "./logger.js";
import type { MachineSource } from "./machine-source.js";
import { flushOutbox } from "./outbox.js";
import { type EventResult, processEvent } from "./process-event.js";
import { groupInOrder, rawEventName, runBounded } from "./records.js";
import type { Database } from "./schema.js";

export interface StateManagerOptions {
  /** Kysely over a pg pool (see openDatabase). The caller owns it: close() does not destroy it. */
  db: Kysely<Database>;
  sqs: SQSClient;
  taskQueueUrl: string;
  machines: MachineSource;
  logger?: Logger;
  /** Clock and token source for transitions; defaults to the wall clock and random UUIDs. */
  deps?: Deps;
  /** Stacks processed at once within a batch; keep it at most the pool size (default 2). */
  concurrency?: number;
}

export interface StateManager {
  handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse>;
  /** Processes records and returns the partial batch response (only transient failures). */
  processRecords(records: readonly SQSRecord[]): Promise<SQSBatchResponse>;
  /** Waits for batches in flight; the database and clients stay open (their owners close them). */
  close(): Promise<void>;
}

export const defaultDeps: Deps = { now: () => new Date(), newToken: () => randomUUID() };

// Bounds what an unreadable stackId can cost us: history's index would reject huge keys anyway.
const MAX_RECORDED_STACK_ID = 256;

type Parsed =
  | { record: SQSRecord; ok: true; event: EngineEvent; stackId: string }
  | { record: SQSRecord; ok: false; reason: string; stackId: string | null };

/** Creates a State Manager over the given database, SQS client and machine source. */
export function createStateManager(opts: StateManagerOptions): StateManager {
  const logger = opts.logger ?? createLogger();
  const deps = opts.deps ?? defaultDeps;
  const ctx = { db: opts.db, machines: opts.machines, deps };
  const outbox = { db: opts.db, sqs: opts.sqs, queueUrl: opts.taskQueueUrl };
  const concurrency = opts.concurrency ?? 2;
  const inFlight = new Set<Promise<unknown>>();

  function parse(record: SQSRecord): Parsed {
    const parsed = parseEventMessage(record.body, record.messageId);
    if (parsed.ok) {
      const stackId = parsed.event.stackId ?? "";
      return { record, ok: true, event: { ...parsed.event, stackId }, stackId };
    }
    const id = typeof parsed.stackId === "string" && parsed.stackId.length > 0 ? parsed.stackId : null;
    return {
      record,
      ok: false,
      reason: parsed.reason,
      stackId: id && id.length <= MAX_RECORDED_STACK_ID ? id : null,
    };
  }

  function logResult(r: EventResult, messageId: string): void {
    const fields = {
      stackId: r.stackId,
      event: r.event,
      machine: r.machine,
      eventKey: r.key,
      messageId,
      from: r.from,
      to: r.to,
      outcome: r.outcome,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.path.length > 0 ? { path: r.path } : {}),
      ...(r.dispatched.length > 0 ? { dispatched: r.dispatched.map((d) => d.task) } : {}),
      ...(r.removed ? { removed: true } : {}),
      ...(r.duplicate ? { duplicate: true } : {}),
    };
    if (r.outcome === "refused") logger.warn("event refused", fields);
    else logger.info(`event ${r.outcome}`, fields);
  }

  /** Handles one record; throws only for transient failures. */
  async function handleOne(item: Parsed): Promise<void> {
    const messageId = item.record.messageId;
    if (!item.ok) {
      const event = rawEventName(item.record.body);
      logger.warn("event refused", {
        stackId: item.stackId,
        event,
        messageId,
        from: null,
        to: null,
        outcome: "refused",
        reason: item.reason,
      });
      if (item.stackId !== null) {
        await insertHistory(opts.db, {
          stackId: item.stackId,
          machine: null,
          event,
          eventKey: messageId,
          outcome: "refused",
          reason: item.reason,
        });
      }
      return;
    }
    const result = await processEvent(ctx, item.event);
    logResult(result, messageId);
    if (result.unsent) {
      const sent = await flushOutbox(outbox, item.stackId);
      if (sent > 0)
        logger.debug("task messages sent", { stackId: item.stackId, event: item.event.name, sent });
    }
  }

  async function processRecords(records: readonly SQSRecord[]): Promise<SQSBatchResponse> {
    const parsed = records.map(parse);
    // Messages with no usable stackId touch no stack, so each can run on its own.
    const groups = groupInOrder(parsed, (p) =>
      p.stackId === null ? `\0${p.record.messageId}` : `s:${p.stackId}`,
    );
    const failures: SQSBatchItemFailure[] = [];
    await runBounded(groups, concurrency, async (group) => {
      for (let i = 0; i < group.items.length; i++) {
        const item = group.items[i]!;
        try {
          await handleOne(item);
        } catch (err) {
          // Later records of this stack must not overtake the failed one: return them too.
          const rest = group.items.slice(i);
          logger.error("record failed; returned to the queue for retry", {
            stackId: item.stackId,
            event: item.ok ? item.event.name : null,
            messageId: item.record.messageId,
            outcome: "retry",
            alsoReturned: rest.length - 1,
            error: err as Error,
          });
          for (const r of rest) failures.push({ itemIdentifier: r.record.messageId });
          return;
        }
      }
    });
    return { batchItemFailures: failures };
  }

  function track<T>(p: Promise<T>): Promise<T> {
    inFlight.add(p);
    return p.finally(() => inFlight.delete(p));
  }

  return {
    processRecords: (records) => track(processRecords(records)),
    async handler(event, context) {
      if (context) logger.addContext(context);
      return track(processRecords(event.Records));
    },
    async close() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
