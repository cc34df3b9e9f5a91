// dev's SQS poller feeds a queue to a Lambda handler as the SQS event source mapping does
// (docs/local-development.md): Lambda-shaped records and context, batchItemFailures stay on the
// queue, a thrown handler leaves the whole batch, everything else is deleted. Against fauxqs.
import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, TEST_REGION, type TestAws } from "../../../test/support/aws.js";
import { type BatchInfo, createPoller, type SqsHandler, toRecord } from "../src/dev/poller.js";

const ARN = "arn:aws:sqs:us-east-1:000000000000:stackseam-events";

describe("toRecord", () => {
  it("gives a received message the Lambda record's shape, attributes base64 where binary", () => {
    const message: Message = {
      MessageId: "m-1",
      ReceiptHandle: "rh-1",
      Body: '{"stackId":"a"}',
      MD5OfBody: "md5",
      Attributes: { ApproximateReceiveCount: "3", SentTimestamp: "1000", SenderId: "AID" },
      MessageAttributes: {
        origin: { DataType: "String", StringValue: "ci" },
        blob: { DataType: "Binary", BinaryValue: Buffer.from("hi") },
        bare: {} as never,
      },
    };
    const r = toRecord(message, ARN, TEST_REGION);
    expect(r).toMatchObject({
      messageId: "m-1",
      receiptHandle: "rh-1",
      body: '{"stackId":"a"}',
      md5OfBody: "md5",
      eventSource: "aws:sqs",
      eventSourceARN: ARN,
      awsRegion: TEST_REGION,
      attributes: { ApproximateReceiveCount: "3", SentTimestamp: "1000", SenderId: "AID" },
    });
    expect(r.messageAttributes.origin).toEqual({
      dataType: "String",
      stringValue: "ci",
      stringListValues: [],
      binaryListValues: [],
    });
    expect(r.messageAttributes.blob?.binaryValue).toBe(Buffer.from("hi").toString("base64"));
    expect(r.messageAttributes.bare).toEqual({
      dataType: "String",
      stringListValues: [],
      binaryListValues: [],
    });
  });

  it("fills what a bare message lacks as the event source would (first receive, now)", () => {
    const before = Date.now();
    const r = toRecord({}, ARN, TEST_REGION);
    expect(r.messageId).toBe("");
    expect(r.body).toBe("");
    expect(r.attributes.ApproximateReceiveCount).toBe("1");
    expect(Number(r.attributes.SentTimestamp)).toBeGreaterThanOrEqual(before);
    expect(r.messageAttributes).toEqual({});
  });
});

describe("the dev poller", { timeout: 60_000 }, () => {
  let aws: TestAws;

  beforeAll(async () => {
    aws = await startTestAws();
  });
  afterAll(async () => {
    await aws?.stop();
  });

  async function visible(): Promise<number> {
    const res = await aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: aws.eventQueueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return (
      Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  /** Runs a poller with `handler` until it has handled `records` records. */
  async function poll(handler: SqsHandler, records: number, visibilityTimeout = 30) {
    const seen: BatchInfo[] = [];
    const errors: unknown[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const poller = createPoller({
      name: "state-manager",
      sqs: aws.sqs,
      queueUrl: aws.eventQueueUrl,
      queueArn: ARN,
      region: TEST_REGION,
      createHandler: () => handler,
      concurrency: 1,
      batchSize: 10,
      waitSeconds: 1,
      visibilityTimeout,
      timeoutMs: 60_000,
      onBatch: (info) => {
        seen.push(info);
        if (seen.reduce((n, b) => n + b.records.length, 0) >= records) done();
      },
      onError: (err) => errors.push(err),
    });
    poller.start();
    await finished;
    return { poller, seen, errors };
  }

  async function send(...bodies: string[]): Promise<void> {
    for (const body of bodies)
      await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.eventQueueUrl, MessageBody: body }));
  }

  it("deletes what the handler took, leaves its batchItemFailures, and gives it a Lambda context", async () => {
    const base = await visible();
    await send("ok-1", "fail-1");
    let remaining = -1;
    let name = "";
    const { poller, seen } = await poll(async (event, context) => {
      remaining = context.getRemainingTimeInMillis();
      name = context.functionName;
      expect(() => context.succeed("x")).toThrow("callback-style completion is not supported");
      const failed = event.Records.filter((r: SQSRecord) => r.body.startsWith("fail"));
      return { batchItemFailures: failed.map((r) => ({ itemIdentifier: r.messageId })) };
    }, 2);
    await poller.stop();
    expect(name).toBe("state-manager");
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(60_000);
    const failed = seen.flatMap((b) => b.records.filter((r) => b.failed.includes(r.messageId)));
    expect(failed.map((r) => r.body)).toEqual(["fail-1"]);
    // The failed one stays on the queue (invisible until its visibility timeout), ok-1 is deleted.
    expect(await visible()).toBe(base + 1);
  });

  it("leaves the whole batch when the handler throws, and release() makes in-flight messages visible again", async () => {
    const base = await visible();
    await send("boom");
    const boom = new Error("handler crashed");
    const { poller, seen } = await poll(async () => {
      throw boom;
    }, 1);
    await poller.stop();
    expect(seen[0]?.error).toBe(boom);
    expect(seen[0]?.failed).toEqual(seen[0]?.records.map((r) => r.messageId));
    expect(await visible()).toBe(base + 1);

    // A handler still running when dev is forced to exit: release() hands its message back.
    await send("held");
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const errors: unknown[] = [];
    const held = createPoller({
      name: "task-satisfier",
      sqs: aws.sqs,
      queueUrl: aws.eventQueueUrl,
      queueArn: ARN,
      region: TEST_REGION,
      createHandler: () => async () => {
        entered();
        await new Promise(() => {});
        return undefined;
      },
      concurrency: 1,
      batchSize: 1,
      waitSeconds: 1,
      visibilityTimeout: 600,
      timeoutMs: 60_000,
      onError: (err) => errors.push(err),
    });
    held.start();
    await inHandler;
    await held.release();
    expect(errors).toEqual([]);
    // Visible again within about a second (not after the 600 s visibility timeout).
    const again = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.eventQueueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }),
    );
    expect(again.Messages?.[0]?.Body).toBe("held");
  });

  it("reports receive failures and keeps going", async () => {
    const errors: unknown[] = [];
    const poller = createPoller({
      name: "state-manager",
      sqs: aws.sqs,
      queueUrl: `${aws.eventQueueUrl}-does-not-exist`,
      queueArn: ARN,
      region: TEST_REGION,
      createHandler: () => async () => undefined,
      concurrency: 1,
      batchSize: 1,
      waitSeconds: 1,
      visibilityTimeout: 30,
      timeoutMs: 60_000,
      onError: (err) => errors.push(err),
    });
    poller.start();
    const until = Date.now() + 10_000;
    while (errors.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await poller.stop();
    expect(errors.length).toBeGreaterThan(0);
  });
});
