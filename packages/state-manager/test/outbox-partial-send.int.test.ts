// SendMessageBatch can take some entries and refuse others (throttling, an entry SQS rejects): the
// refused task messages stay in the outbox, the event's record is failed so SQS redelivers it, and
// the redelivery sends only what is still unsent (docs/state-manager.md, the outbox).
import {
  type SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { deliver, drainTasks, event, manager, mustGetStack, sqsRecord } from "./helpers.js";

describe("a batch send SQS takes only in part", () => {
  let database: TestDatabase;
  let aws: TestAws;
  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
  });
  afterAll(async () => {
    await aws?.stop();
    await database?.drop();
  });

  /** An SQS client whose first SendMessageBatch has its first entry refused, as SQS throttling does. */
  function refusingFirstEntry(): SQSClient {
    let refused = false;
    const sqs = new SQSClient({ endpoint: aws.endpoint, region: aws.region, credentials: TEST_CREDENTIALS });
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "SendMessageBatchCommand" || refused) return next(args);
        refused = true;
        const input = args.input as SendMessageBatchCommand["input"];
        const [first, ...rest] = input.Entries ?? [];
        const out = (await next({ ...args, input: { ...input, Entries: rest } })) as {
          output: SendMessageBatchCommandOutput;
        };
        out.output.Failed = [
          ...(out.output.Failed ?? []),
          { Id: first?.Id, Code: "RequestThrottled", SenderFault: false, Message: "Rate exceeded" },
        ];
        return out as never;
      },
      { step: "initialize", name: "refuseFirstEntry" },
    );
    return sqs;
  }

  it("keeps the refused message, fails the record, and sends only it on redelivery", async () => {
    const sqs = refusingFirstEntry();
    const m = manager(database.url, sqs, aws.taskQueueUrl);
    try {
      const launch = sqsRecord(event("partial-1", "LAUNCH", { machine: "qa-env" }));
      const res = await m.sm.processRecords([launch]);
      expect(res.batchItemFailures).toEqual([{ itemIdentifier: launch.messageId }]);
      const stack = await mustGetStack(m.db, "partial-1");
      const first = await drainTasks(aws.sqs, aws.taskQueueUrl);
      expect(first.length).toBe(stack.tasks.length - 1);
      const unsent = await m.db.selectFrom("outbox").select("token").where("sent_at", "is", null).execute();
      expect(unsent).toHaveLength(1);

      await deliver(m.sm, launch);
      const second = await drainTasks(aws.sqs, aws.taskQueueUrl);
      expect(second.map((t) => t.token)).toEqual(unsent.map((u) => u.token));
      expect([...first, ...second].map((t) => t.token).sort()).toEqual(
        stack.tasks.map((t) => t.token).sort(),
      );
    } finally {
      await m.close();
      sqs.destroy();
    }
  });
});
