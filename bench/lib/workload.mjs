// The events the benchmarks feed the State Manager, as the Lambda SQS event source delivers them.
import { createHash, randomUUID } from "node:crypto";
import { MACHINE, REGION } from "./infra.mjs";

const QUEUE_ARN = `arn:aws:sqs:${REGION}:000000000000:stackseam-events`;

/** One SQS record (the shape Lambda hands the handler) carrying `message` as its JSON body. */
export function sqsRecord(message) {
  const body = JSON.stringify(message);
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: now,
      SenderId: "000000000000",
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(body).digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: QUEUE_ARN,
    awsRegion: REGION,
  };
}

export const stackIds = (prefix, count) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(5, "0")}`);

/** First events: each creates its stack and dispatches provision-env (INIT → PROVISION). */
export const launches = (ids) =>
  ids.map((stackId) =>
    sqsRecord({
      stackId,
      event: "LAUNCH",
      machine: MACHINE,
      metadata: { apiImageTag: "e724e90", delayMs: 0 },
    }),
  );

/** Reports for the dispatched tasks, with their real tokens (PROVISION → NEXT → RUN). */
export const completions = (dispatches) =>
  dispatches.map(({ stackId, task, token }) => sqsRecord({ stackId, event: "TASK_COMPLETED", task, token }));

/** No-op "touch" events in RUN: only the merged metadata changes. */
export const touches = (ids) =>
  ids.map((stackId) => sqsRecord({ stackId, event: "TOUCH", metadata: { touchedBy: "bench" } }));

/** A Lambda context good enough for the handler and the logger. */
export function lambdaContext(name) {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${REGION}:000000000000:function:${name}`,
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "bench",
    getRemainingTimeInMillis: () => 30_000,
    done() {},
    fail() {},
    succeed() {},
  };
}

/** The dispatched tasks of the given stacks, read from the outbox (the tokens TASK_COMPLETED must carry). */
export async function dispatchedTasks(client, prefix) {
  const res = await client.query(
    'SELECT stack_id AS "stackId", task, token FROM outbox WHERE stack_id LIKE $1 ORDER BY stack_id',
    [`${prefix}-%`],
  );
  return res.rows;
}
