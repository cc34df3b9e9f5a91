// Orchestration layer: the State Manager as SQS sees it. Parses records, runs the batch (see
// batch.ts), applies each event (apply-event.ts) and sends the outbox once the batch committed,
// then the notifications its events wrote (notify/notifier.ts).
import { randomUUID } from "node:crypto";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { type Deps, type EngineEvent, parseEventMessage } from "@stackseam/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Kysely } from "kysely";
import { applyEvent, type EventResult, engineContext } from "./apply-event.js";
import { batchResponse, runBatch, unlessAllFailed } from "./batch.js";
import { insertHistory } from "./history.js";
import { canHold, createLogger } from "./logger.js";
import type { MachineSource } from "./machine-source.js";
import { createNotifier, type Notifier } from "./notify/notifier.js";
import { flushStacks } from "./outbox.js";
import { rawEventName } from "./raw-event.js";
import type { Database } from "./schema.js";
import { type ReadStack, readStacks } from "./stack-rows.js";

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
  /** Sends the notifications a batch wrote (default: one with default AWS clients, made on first use). */
  notifier?: Notifier;
}

export interface StateManager {
  handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse>;
  /** Processes records and returns the partial batch response (only transient failures). */
  processRecords(records: readonly SQSRecord[]): Promise<SQSBatchResponse>;
  /** Waits for batches in flight; the database and clients stay open (their owners close them). */
  close(): Promise<void>;
}

export const defaultDeps: Deps = { now: () => new Date(), newToken: () => randomUUID(), random: Math.random };

// Bounds what an unreadable stackId can cost us: history's index would reject huge keys anyway.
const MAX_RECORDED_STACK_ID = 256;

type Parsed =
  | { record: SQSRecord; ok: true; event: EngineEvent; stackId: string }
  | { record: SQSRecord; ok: false; reason: string; stackId: string | null };

/** Creates a State Manager over the given database, SQS client and machine source. */
export function createStateManager(opts: StateManagerOptions): StateManager {
  const logger = opts.logger ?? createLogger();
  const deps = opts.deps ?? defaultDeps;
  const ctx = engineContext(opts.db, opts.machines, deps);
  const outbox = { db: opts.db, sqs: opts.sqs, queueUrl: opts.taskQueueUrl };
  const concurrency = opts.concurrency ?? 2;
  const notifier = opts.notifier ?? createNotifier({ db: opts.db, logger, deps });
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
    else if (canHold(logger)) logger.infoLine(`event ${r.outcome}`, fields);
    else logger.info(`event ${r.outcome}`, fields);
  }

  /**
   * Handles one record; throws only for transient failures. Returns the stack whose outbox the
   * batch must flush afterwards (null for a message that never reached a stack), and whether this
   * event wrote task messages and notifications, and whether the stack had some unsent before it.
   */
  async function handleOne(
    item: Parsed,
    ahead: Map<string, ReadStack | null>,
  ): Promise<{ stackId: string; wrote: boolean; notified: boolean; unsentBefore?: boolean } | null> {
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
      return null;
    }
    // The stack's first record uses the batch's read of it (see readAhead); later ones read anew.
    const read = ahead.get(item.stackId);
    ahead.delete(item.stackId);
    const result = await applyEvent(ctx, item.event, read);
    logResult(result, messageId);
    return {
      stackId: item.stackId,
      wrote: result.unsent,
      notified: result.notified,
      ...(result.unsentBefore !== undefined ? { unsentBefore: result.unsentBefore } : {}),
    };
  }

  async function run(
    records: readonly SQSRecord[],
  ): Promise<{ response: SQSBatchResponse; errors: unknown[] }> {
    // The batch's INFO lines go out in one write when it ends (see BatchingLogger).
    const holding = canHold(logger);
    if (holding) logger.hold();
    try {
      return await runHeld(records);
    } finally {
      if (holding) logger.release();
    }
  }

  /**
   * The stacks the batch's records start by reading, read in one statement, so that each of those
   * events only writes (a batch of ten stacks: eleven statements instead of twenty). A record
   * naming a machine tries to create its stack first, so its stack is not read; nor is anything
   * for fewer than two stacks. If the read fails, each event reads its own stack (and fails alone).
   */
  async function readAhead(parsed: readonly Parsed[]): Promise<Map<string, ReadStack | null>> {
    const reads = new Map<string, boolean>();
    for (const p of parsed) {
      if (p.stackId !== null && !reads.has(p.stackId))
        reads.set(p.stackId, p.ok && p.event.machine === undefined);
    }
    const ids = [...reads].filter(([, read]) => read).map(([id]) => id);
    if (ids.length < 2) return new Map();
    try {
      return await readStacks(opts.db, ids);
    } catch (err) {
      logger.warn("batch read failed; each event reads its own stack", { error: err as Error });
      return new Map();
    }
  }

  async function runHeld(
    records: readonly SQSRecord[],
  ): Promise<{ response: SQSBatchResponse; errors: unknown[] }> {
    const parsed = records.map(parse);
    const ahead = await readAhead(parsed);
    // Stacks reached by this batch, with their records that committed (in order).
    const reached = new Map<string, string[]>();
    let wrote = false;
    // Whether a stack reached may hold task messages an earlier attempt left unsent.
    let leftUnsent = false;
    const notified = new Set<string>();
    const outcome = await runBatch(parsed, {
      idOf: (p) => p.record.messageId,
      // Messages with no usable stackId touch no stack, so each can run on its own.
      groupOf: (p) => (p.stackId === null ? `\0${p.record.messageId}` : `s:${p.stackId}`),
      concurrency,
      async process(item) {
        const done = await handleOne(item, ahead);
        if (!done) return;
        const ids = reached.get(done.stackId);
        if (ids) ids.push(item.record.messageId);
        else reached.set(done.stackId, [item.record.messageId]);
        if (done.wrote) wrote = true;
        if (done.unsentBefore !== false) leftUnsent = true;
        if (done.notified) notified.add(done.stackId);
      },
      onFailure(item, err, alsoReturned) {
        logger.error("record failed; returned to the queue for retry", {
          stackId: item.stackId,
          event: item.ok ? item.event.name : null,
          messageId: item.record.messageId,
          outcome: "retry",
          alsoReturned,
          error: err as Error,
        });
      },
    });
    const flushError = await flushReached(reached, wrote || leftUnsent, !wrote, outcome.failed);
    if (flushError) outcome.errors.push(flushError);
    // After every transaction committed, so a target never holds up or fails a transition; the
    // notifier never throws and keeps to its budget (what it leaves, the tick sends).
    if (notified.size > 0) await notifier.afterBatch(notified);
    return { response: batchResponse(records, (r) => r.messageId, outcome.failed), errors: outcome.errors };
  }

  async function processRecords(records: readonly SQSRecord[]): Promise<SQSBatchResponse> {
    return (await run(records)).response;
  }

  /**
   * Sends the task messages of every stack the batch reached, once for the whole batch, after all
   * its transactions committed: this batch's and any an earlier attempt left unsent (so any event
   * of a stack, a duplicate included, drains its outbox). Nothing to do when no event wrote task
   * messages and every one found its stack with none unsent (`needed` false); with `probe`, one
   * query first checks whether anything is unsent. A stack whose messages stay unsent has its
   * records returned: their redelivery is a duplicate that flushes again.
   */
  async function flushReached(
    reached: Map<string, string[]>,
    needed: boolean,
    probe: boolean,
    failed: Set<string>,
  ) {
    if (reached.size === 0 || !needed) return null;
    const result = await flushStacks(outbox, reached.keys(), { probe });
    if (result.sent > 0) logger.debug("task messages sent", { stacks: reached.size, sent: result.sent });
    if (result.unsentStacks.size === 0) return null;
    for (const stackId of result.unsentStacks) {
      const returned = (reached.get(stackId) ?? []).filter((id) => !failed.has(id));
      for (const id of returned) failed.add(id);
      logger.error("task messages not sent; records returned to the queue for retry", {
        stackId,
        messageIds: returned,
        outcome: "retry",
        error: result.error ?? undefined,
      });
    }
    return result.error;
  }

  function track<T>(p: Promise<T>): Promise<T> {
    inFlight.add(p);
    return p.finally(() => inFlight.delete(p));
  }

  return {
    processRecords: (records) => track(processRecords(records)),
    async handler(event, context) {
      if (context) logger.addContext(context);
      const { response, errors } = await track(run(event.Records));
      return unlessAllFailed(response, event.Records.length, errors);
    },
    async close() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
