import { randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from "aws-lambda";

/** An SQS-triggered Lambda handler, as the State Manager and Task Satisfier export it. */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface BatchInfo {
  records: SQSRecord[];
  /** Message ids the handler reported as failed (or every id when it threw). */
  failed: string[];
  ms: number;
  error?: unknown;
}

export interface PollerOptions {
  /** Also the Lambda-like function name in the context. */
  name: string;
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  /**
   * Called once per receive loop: each loop is like one Lambda instance, handling one batch at a
   * time with its own handler (so per-invocation log context does not mix between loops).
   */
  createHandler(): SqsHandler;
  /** Concurrent receive loops, like concurrent Lambda instances. */
  concurrency: number;
  batchSize: number;
  /** Long-poll wait; it also bounds how long a graceful stop waits for an idle loop. */
  waitSeconds: number;
  visibilityTimeout: number;
  /** What getRemainingTimeInMillis counts down from. */
  timeoutMs: number;
  /** Called with the records just received, before the handler runs. */
  onReceive?(records: SQSRecord[]): void;
  onBatch?(info: BatchInfo): void;
  /** Receive/delete failures (the loop keeps going after a short pause). */
  onError(err: unknown): void;
}

export interface Poller {
  start(): void;
  /** Stops receiving and waits for in-flight batches to finish. */
  stop(): Promise<void>;
  /** For a forced exit: makes in-flight messages visible again (within a second), so a restart picks them up. */
  release(): Promise<void>;
}

function toLambdaAttributes(message: Message): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [key, value] of Object.entries(message.MessageAttributes ?? {})) {
    out[key] = {
      dataType: value.DataType ?? "String",
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString("base64")),
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString("base64") }
        : {}),
    };
  }
  return out;
}

/** The record shape the Lambda SQS event source delivers. */
export function toRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const a = message.Attributes ?? {};
  const now = String(Date.now());
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
      SentTimestamp: a.SentTimestamp ?? now,
      SenderId: a.SenderId ?? "000000000000",
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? now,
    },
    messageAttributes: toLambdaAttributes(message),
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function lambdaContext(name: string, region: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const unsupported = () => {
    throw new Error("callback-style completion is not supported; return a promise");
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${name}`,
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "stackseam-dev",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/**
 * Feeds a queue to a Lambda handler the way the SQS event source mapping does: batches, the
 * handler's batchItemFailures stay on the queue for redelivery (after the visibility timeout,
 * and to the DLQ after maxReceiveCount), everything else is deleted.
 */
export function createPoller(opts: PollerOptions): Poller {
  let stopping = false;
  const loops: Promise<void>[] = [];
  const inFlight = new Map<string, string>();
  const abort = new AbortController();

  async function processBatch(handler: SqsHandler, messages: Message[]): Promise<void> {
    const records = messages.map((m) => toRecord(m, opts.queueArn, opts.region));
    for (const r of records) inFlight.set(r.messageId, r.receiptHandle);
    const started = performance.now();
    let failed: string[];
    let error: unknown;
    opts.onReceive?.(records);
    try {
      const result = await handler(
        { Records: records },
        lambdaContext(opts.name, opts.region, opts.timeoutMs),
      );
      failed = (result?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
    } catch (err) {
      // A thrown handler is a failed invocation: Lambda leaves the whole batch for redelivery.
      error = err;
      failed = records.map((r) => r.messageId);
    }
    const ms = performance.now() - started;
    const failedSet = new Set(failed);
    const done = records.filter((r) => !failedSet.has(r.messageId));
    if (done.length > 0) {
      try {
        const res = await opts.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: opts.queueUrl,
            Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        );
        if (res.Failed && res.Failed.length > 0) {
          opts.onError(
            new Error(`could not delete ${res.Failed.length} processed message(s) from ${opts.name}`),
          );
        }
      } catch (err) {
        opts.onError(err);
      }
    }
    for (const r of records) inFlight.delete(r.messageId);
    opts.onBatch?.({ records, failed, ms, ...(error !== undefined ? { error } : {}) });
  }

  async function loop(): Promise<void> {
    const handler = opts.createHandler();
    while (!stopping) {
      let messages: Message[];
      try {
        const res = await opts.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: opts.batchSize,
            WaitTimeSeconds: opts.waitSeconds,
            VisibilityTimeout: opts.visibilityTimeout,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: abort.signal },
        );
        messages = res.Messages ?? [];
      } catch (err) {
        if (stopping) return;
        opts.onError(err);
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      if (messages.length > 0) await processBatch(handler, messages);
    }
  }

  return {
    start() {
      for (let i = 0; i < opts.concurrency; i++) loops.push(loop());
    },
    async stop() {
      // Receives are not aborted: a message the server hands out as the abort lands would stay
      // invisible for the whole visibility timeout. Waiting one long-poll at most is cheaper.
      stopping = true;
      await Promise.all(loops);
    },
    async release() {
      stopping = true;
      abort.abort();
      const entries = [...inFlight.values()].map((handle, i) => ({
        Id: String(i),
        ReceiptHandle: handle,
        // Not 0: fauxqs 2.4.1 with SQLite persistence drops a message made visible with 0.
        VisibilityTimeout: 1,
      }));
      for (let i = 0; i < entries.length; i += 10) {
        await opts.sqs
          .send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: opts.queueUrl,
              Entries: entries.slice(i, i + 10),
            }),
          )
          .catch((err: unknown) => opts.onError(err));
      }
    },
  };
}
