import { Logger } from "@aws-lambda-powertools/logger";
import type { TaskMessage } from "@stackseam/core";
import type { Context, SQSRecord } from "aws-lambda";

/** A logger that prints nothing. */
export const silentLogger = () => new Logger({ serviceName: "test", logLevel: "SILENT" });

/** A deadline that never comes close. */
export const farDeadline = { remainingMs: () => 15 * 60_000 };

/** A deadline `ms` from now. */
export function deadlineIn(ms: number) {
  const at = performance.now() + ms;
  return { remainingMs: () => at - performance.now() };
}

/** Just enough of a Lambda context for the handler. */
export function lambdaContext(remainingMs = 15 * 60_000): Context {
  const deadline = deadlineIn(remainingMs);
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "stackseam-task-satisfier",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:stackseam-task-satisfier",
    memoryLimitInMB: "1024",
    awsRequestId: "req-1",
    logGroupName: "/aws/lambda/stackseam-task-satisfier",
    logStreamName: "stream",
    getRemainingTimeInMillis: () => deadline.remainingMs(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** A terraform task message with a local source; override what a test cares about. */
export function terraformTask(
  overrides: Partial<TaskMessage> & { config?: Record<string, unknown> } = {},
): TaskMessage {
  return {
    stackId: "feature-123",
    machine: "qa-env",
    state: "PROVISION",
    task: "infra",
    executor: "terraform",
    config: { action: "apply", source: { type: "local", location: "/nonexistent" } },
    metadata: { apiImageTag: "e724e90" },
    token: "tok-1",
    attempt: 1,
    ...overrides,
  };
}

/** A lambda task message. */
export function lambdaTask(
  config: Record<string, unknown>,
  overrides: Partial<TaskMessage> = {},
): TaskMessage {
  return terraformTask({ executor: "lambda", task: "notify", config, ...overrides });
}

/** An SQS record as the Lambda event source delivers it. */
export function sqsRecord(body: string, messageId = `m-${Math.random().toString(36).slice(2)}`): SQSRecord {
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

/** The fake Terraform (test/fixtures/fake-terraform). */
export const FAKE_TF = new URL("../../../test/fixtures/fake-terraform/terraform", import.meta.url).pathname;
/** Local task functions for the tests. */
export const FUNCTIONS_DIR = new URL("./fixtures/functions/", import.meta.url).pathname;
/** A root module that declares its backend: Stackseam only passes the key. */
export const DECLARES_BACKEND = 'terraform {\n  backend "s3" {}\n}\nvariable "stack_id" {}\n';
