import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvokeCommand, LambdaClient, TooManyRequestsException } from "@aws-sdk/client-lambda";
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { parseTaskReport, type TaskMessage, type TaskReport } from "@stackseam/core";
import {
  awsLambdaInvoker,
  type ConfigError,
  createTaskSatisfier,
  type Executor,
  localLambdaInvoker,
} from "@stackseam/task-satisfier";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { lambdaContext, lambdaTask, silentLogger, terraformTask } from "./support.js";

const FAKE_TF = new URL("../../../test/fixtures/fake-terraform/terraform", import.meta.url).pathname;
const functionsDir = new URL("./fixtures/functions/", import.meta.url).pathname;

let aws: TestAws;
let queueUrl: string;

beforeAll(async () => {
  aws = await startTestAws();
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(async () => {
  const created = await aws.sqs.send(new CreateQueueCommand({ QueueName: `events-${randomUUID()}` }));
  queueUrl = created.QueueUrl!;
});
afterEach(() => {
  vi.unstubAllEnvs();
});

function record(body: string): SQSRecord {
  const messageId = randomUUID();
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "0",
      SenderId: "x",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:stackseam-tasks",
    awsRegion: "us-east-1",
  };
}

const sqsEvent = (...bodies: string[]): SQSEvent => ({ Records: bodies.map(record) });

/** Every message now on the queue (removed as read). */
async function drain(url = queueUrl): Promise<unknown[]> {
  const bodies: unknown[] = [];
  for (;;) {
    const res = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!res.Messages?.length) return bodies;
    for (const m of res.Messages) {
      bodies.push(JSON.parse(m.Body!));
      await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
}

function satisfier(
  overrides: { eventQueueUrl?: string; invoker?: ReturnType<typeof localLambdaInvoker> } = {},
) {
  return createTaskSatisfier({
    sqs: aws.sqs,
    eventQueueUrl: overrides.eventQueueUrl ?? queueUrl,
    s3: aws.s3,
    invoker: overrides.invoker ?? localLambdaInvoker(functionsDir),
    logger: silentLogger(),
    deadlineMarginMs: 1000,
  });
}

describe("SQS batch handler", () => {
  it("sends schema-valid reports to the event queue and acknowledges every record", async () => {
    const ok = lambdaTask({ name: "echo" }, { token: "t-ok" });
    const failing = lambdaTask({ name: "fails" }, { token: "t-fail", stackId: "s-2" });
    const result = (await satisfier().handler(
      sqsEvent(JSON.stringify(ok), JSON.stringify(failing)),
      lambdaContext(),
    )) as SQSBatchResponse;
    expect(result).toEqual({ batchItemFailures: [] });

    const reports = await drain();
    expect(reports).toHaveLength(2);
    for (const r of reports) expect(parseTaskReport(r).ok).toBe(true);
    const byToken = Object.fromEntries(reports.map((r) => [(r as TaskReport).token, r as TaskReport]));
    expect(byToken["t-ok"]).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "notify",
      token: "t-ok",
    });
    expect(byToken["t-fail"]).toMatchObject({
      stackId: "s-2",
      event: "TASK_ERROR",
      task: "notify",
      token: "t-fail",
    });
    expect(byToken["t-fail"]?.description).toMatch(
      /^Lambda function fails failed: QuotaExceeded: no room for s-2/,
    );
  });

  it("reports an invalid but identifiable message as TASK_ERROR, and drops an unreadable one", async () => {
    const invalid = { ...lambdaTask({ name: "echo" }), attempt: "first", token: "t-bad" };
    const result = (await satisfier().handler(
      sqsEvent(JSON.stringify(invalid), "{not json", JSON.stringify({ task: "x" })),
      lambdaContext(),
    )) as SQSBatchResponse;
    expect(result).toEqual({ batchItemFailures: [] });
    const reports = (await drain()) as TaskReport[];
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      stackId: "feature-123",
      event: "TASK_ERROR",
      task: "notify",
      token: "t-bad",
    });
    expect(reports[0]?.description).toMatch(/^invalid task message: .*attempt/);
  });

  it("fails the record when the report cannot be sent", async () => {
    const missingQueue = queueUrl.replace(/events-[^/]+$/, "no-such-queue");
    const event = sqsEvent(JSON.stringify(lambdaTask({ name: "echo" })));
    const result = await satisfier({ eventQueueUrl: missingQueue }).handler(event, lambdaContext());
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] });
  });

  it("fails the record (no report) when Lambda throttles", async () => {
    const lambdaMock = mockClient(LambdaClient);
    lambdaMock
      .on(InvokeCommand)
      .rejects(
        new TooManyRequestsException({ message: "Rate exceeded", $metadata: { httpStatusCode: 429 } }),
      );
    const invoker = awsLambdaInvoker(new LambdaClient({ region: "us-east-1", maxAttempts: 1 }));
    const event = sqsEvent(
      JSON.stringify(lambdaTask({ name: "busy" })),
      JSON.stringify(lambdaTask({ name: "echo" })),
    );
    const result = await satisfier({ invoker }).handler(event, lambdaContext());
    lambdaMock.restore();
    expect(result).toEqual({
      batchItemFailures: [
        { itemIdentifier: event.Records[0]!.messageId },
        { itemIdentifier: event.Records[1]!.messageId },
      ],
    });
    expect(await drain()).toEqual([]);
  });

  it("returns later records to the queue when too little time is left", async () => {
    let remaining = 60_000;
    // A task that uses up the invocation's time, so the next record must wait for another one.
    const slow: Executor = {
      plan: () => ({ ok: true, plan: {} }),
      run: async () => {
        remaining = 500;
        return { ok: true };
      },
    };
    const s = createTaskSatisfier({
      sqs: aws.sqs,
      eventQueueUrl: queueUrl,
      s3: aws.s3,
      invoker: localLambdaInvoker(functionsDir),
      logger: silentLogger(),
      deadlineMarginMs: 1000,
      executors: { slow },
    });
    const event = sqsEvent(
      JSON.stringify(lambdaTask({}, { executor: "slow", token: "first" })),
      JSON.stringify(lambdaTask({ name: "echo" }, { token: "second" })),
    );
    const context = { ...lambdaContext(), getRemainingTimeInMillis: () => remaining };
    const result = await s.handler(event, context);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1]!.messageId }] });
    expect(await drain()).toEqual([
      { stackId: "feature-123", event: "TASK_COMPLETED", task: "notify", token: "first" },
    ]);
  });
});

describe("direct invocation", () => {
  it("runs a task message given as the event, sends its report and returns it", async () => {
    const report = await satisfier().handler(lambdaTask({ name: "echo" }), lambdaContext());
    expect(report).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "notify",
      token: "tok-1",
    });
    expect(await drain()).toEqual([report]);
  });

  it("throws on a message it cannot identify", async () => {
    await expect(
      satisfier().handler({ hello: "world" } as unknown as TaskMessage, lambdaContext()),
    ).rejects.toMatchObject({ code: "INVALID_MESSAGE" });
  });
});

describe("the environment-configured Lambda handler", () => {
  it("reads its configuration from the environment and runs terraform through TERRAFORM_BIN", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stackseam-handler-"));
    try {
      await writeFile(join(dir, "main.tf"), 'terraform {\n  backend "s3" {}\n}\n');
      for (const [k, v] of Object.entries(aws.env)) vi.stubEnv(k, v);
      vi.stubEnv("SQS_EVENT_QUEUE_URL", queueUrl);
      vi.stubEnv("TERRAFORM_BIN", FAKE_TF);
      vi.stubEnv("TERRAFORM_DEADLINE_MARGIN_MS", "1000");
      vi.stubEnv("TMPDIR", dir);
      vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
      vi.resetModules();
      const { handler } = await import("@stackseam/task-satisfier");
      const task = terraformTask({
        config: { action: "apply", source: { type: "local", location: join(dir, "main.tf") } },
      });
      const report = await handler(task, lambdaContext());
      expect(report).toEqual({
        stackId: "feature-123",
        event: "TASK_COMPLETED",
        task: "infra",
        token: "tok-1",
        outputs: {},
      });
      expect(await drain()).toEqual([report]);
      expect((await readdir(dir)).filter((f) => f.startsWith("stackseam-tf-"))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails with one error listing every configuration problem", async () => {
    vi.stubEnv("SQS_EVENT_QUEUE_URL", "");
    vi.stubEnv("TERRAFORM_DEADLINE_MARGIN_MS", "-5");
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
    vi.resetModules();
    const { handler } = await import("@stackseam/task-satisfier");
    const error = await handler(sqsEvent("{}"), lambdaContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as ConfigError).code).toBe("CONFIG");
    expect((error as ConfigError).problems).toEqual([
      "SQS_EVENT_QUEUE_URL is required (the event queue the reports go to)",
      'TERRAFORM_DEADLINE_MARGIN_MS must be a whole number of milliseconds ≥ 0 (got "-5")',
    ]);
  });
});
