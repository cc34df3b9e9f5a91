import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import { parseTaskMessage, type Stack, type TaskMessage } from "@stackseam/core";
import {
  createStateManager,
  type Database,
  getStack,
  localMachineSource,
  type MachineSource,
  openDatabase,
  type StateManager,
  type StateManagerOptions,
} from "@stackseam/state-manager";
import type { SQSRecord } from "aws-lambda";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, expect, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";

export const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

export const silentLogger = (): Logger => new Logger({ serviceName: "stackseam-test", logLevel: "SILENT" });

/** An SQS record as Lambda delivers it; the message id is the default idempotency key. */
export function sqsRecord(body: unknown, messageId: string = randomUUID()): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "0",
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:stackseam-events",
    awsRegion: "us-east-1",
  };
}

/** Turns a message received from (faux) SQS into the record Lambda would pass. */
export function recordFromMessage(m: Message): SQSRecord {
  return { ...sqsRecord(m.Body ?? "", m.MessageId ?? randomUUID()), receiptHandle: m.ReceiptHandle ?? "" };
}

import { drainQueue } from "../../../test/support/sqs.js";

/** Receives (and deletes) every message currently on a queue. */
export const drain = drainQueue;

/** Drains the task queue and checks every message against the task-message schema. */
export async function drainTasks(sqs: SQSClient, queueUrl: string): Promise<TaskMessage[]> {
  const messages = await drain(sqs, queueUrl);
  return messages.map((m) => {
    const parsed = parseTaskMessage(m.Body ?? "");
    if (!parsed.ok) throw new Error(`task message fails its schema: ${parsed.reason}`);
    return parsed.message;
  });
}

export const fixtureMachines = (): MachineSource => localMachineSource({ dir: FIXTURES });

/** A State Manager with its own small pool, as one Lambda container would have. */
export function manager(
  url: string,
  sqs: SQSClient,
  taskQueueUrl: string,
  extra: Partial<StateManagerOptions> & { applicationName?: string } = {},
): { sm: StateManager; db: Kysely<Database>; close(): Promise<void> } {
  const { applicationName, ...rest } = extra;
  const db = openDatabase(url, { max: 2, applicationName: applicationName ?? "stackseam-test" });
  const sm = createStateManager({
    db,
    sqs,
    taskQueueUrl,
    machines: fixtureMachines(),
    logger: silentLogger(),
    ...rest,
  });
  return {
    sm,
    db,
    async close() {
      await sm.close();
      await db.destroy();
    },
  };
}

export const event = (stackId: string, name: string, extra: Record<string, unknown> = {}) => ({
  stackId,
  event: name,
  ...extra,
});

export const completed = (stackId: string, task: string, token: string) => ({
  stackId,
  event: "TASK_COMPLETED",
  task,
  token,
});

/** Processes records and asserts none failed. */
export async function deliver(sm: StateManager, ...records: SQSRecord[]): Promise<void> {
  const res = await sm.processRecords(records);
  expect(res.batchItemFailures).toEqual([]);
}

/** The stack, which must exist. */
export async function mustGetStack(db: Kysely<Database>, id: string): Promise<Stack> {
  const stack = await getStack(db, id);
  if (!stack) throw new Error(`stack ${id} does not exist`);
  return stack;
}

/** The current token of a task of a stack. */
export function tokenOf(stack: Stack, task: string): string {
  const t = stack.tasks.find((x) => x.name === task);
  if (!t) throw new Error(`stack ${stack.id} has no task ${task} in ${stack.state}`);
  return t.token;
}

/** Each write to stdout and stderr while spying (swallowed), in order: what a logger wrote, and how often. */
export function spyWrites(): { writes: { to: "stdout" | "stderr"; text: string }[]; restore(): void } {
  const writes: { to: "stdout" | "stderr"; text: string }[] = [];
  const spy = (to: "stdout" | "stderr") =>
    vi.spyOn(process[to], "write").mockImplementation((chunk) => {
      writes.push({ to, text: String(chunk) });
      return true;
    });
  const spies = [spy("stdout"), spy("stderr")];
  return {
    writes,
    restore: () => {
      for (const s of spies) s.mockRestore();
    },
  };
}

/** A test database and fauxqs for the calling file's tests: made before them, removed after. */
export function fileFixtures(): { readonly database: TestDatabase; readonly aws: TestAws } {
  const made: { database?: TestDatabase; aws?: TestAws } = {};
  beforeAll(async () => {
    [made.database, made.aws] = await Promise.all([createTestDatabase(), startTestAws()]);
  });
  afterAll(async () => {
    await made.aws?.stop();
    await made.database?.drop();
  });
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error("fileFixtures: used before its beforeAll ran");
    return v;
  };
  return {
    get database() {
      return need(made.database);
    },
    get aws() {
      return need(made.aws);
    },
  };
}
