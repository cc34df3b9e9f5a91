import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import {
  createStateManager,
  type Database,
  localMachineSource,
  openDatabase,
  type StateManager,
} from "@stackseam/state-manager";
import { createTaskSatisfier } from "@stackseam/task-satisfier";
import type { Context, SQSRecord } from "aws-lambda";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { toRecord } from "./support/event-queue.js";
import { MACHINE_DIR } from "./support/machines.js";

// Regression tests for defects the reliability fuzzer found (see docs/reliability.md): characters
// that SQS or Postgres cannot carry once made records fail as if transient, forever.

const record = (body: unknown): SQSRecord =>
  toRecord({
    messageId: randomUUID(),
    body: typeof body === "string" ? body : JSON.stringify(body),
    key: "",
    stackId: null,
    visibleAt: 0,
    receiveCount: 1,
  });

const silent = () => new Logger({ serviceName: "stackseam-known-defects", logLevel: "SILENT" });

describe("known defect 1: characters Postgres or SQS cannot carry make a record fail forever", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let db: Kysely<Database>;
  let sm: StateManager;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    db = openDatabase(database.url, { max: 2 });
    sm = createStateManager({
      db,
      sqs: aws.sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines: localMachineSource({ dir: MACHINE_DIR }),
      logger: silent(),
    });
    const seeded = await sm.processRecords([record({ stackId: "kd-a", event: "LAUNCH", machine: "fanout" })]);
    expect(seeded.batchItemFailures).toEqual([]);
  });
  afterAll(async () => {
    await sm?.close();
    await db?.destroy();
    await aws?.stop();
    await database?.drop();
  });

  /** A permanently bad message must be acknowledged (refused), never returned for retry. */
  async function settlesOnce(body: unknown): Promise<void> {
    const res = await sm.processRecords([record(body)]);
    expect(res.batchItemFailures).toEqual([]);
  }

  it("an invalid body whose event name holds NUL is refused, not retried", async () => {
    await settlesOnce({ stackId: "kd-a", event: "\u0000" });
  });
  it("a stale TASK_ERROR whose description holds NUL is ignored, not retried", async () => {
    await settlesOnce({
      stackId: "kd-a",
      event: "TASK_ERROR",
      task: "t1",
      token: "stale",
      description: "x\u0000",
    });
  });
  it("an eventId holding NUL is refused, not retried", async () => {
    await settlesOnce({ stackId: "kd-a", event: "DESTROY", eventId: "e\u0000" });
  });
  it("metadata holding NUL is refused (or stored), not retried", async () => {
    await settlesOnce({ stackId: "kd-b", event: "LAUNCH", machine: "fanout", metadata: { owner: "\u0000" } });
  });
  it("metadata holding an unpaired surrogate is refused (or stored), not retried", async () => {
    await settlesOnce({ stackId: "kd-c", event: "LAUNCH", machine: "fanout", metadata: { owner: "\ud800" } });
  });
  it("metadata holding U+FFFF does not leave a task message SQS refuses (poisoning the stack)", async () => {
    await settlesOnce({ stackId: "kd-d", event: "LAUNCH", machine: "fanout", metadata: { owner: "\uffff" } });
  });
});

describe("known defect 2: a report SQS refuses makes a task message fail forever", () => {
  let aws: TestAws;
  beforeAll(async () => {
    aws = await startTestAws();
  });
  afterAll(async () => {
    await aws?.stop();
  });

  it("an invalid task message whose token holds U+FFFF is reported or dropped, not retried", async () => {
    const satisfier = createTaskSatisfier({
      sqs: aws.sqs,
      eventQueueUrl: aws.eventQueueUrl,
      s3: aws.s3,
      invoker: { invoke: async () => ({ ok: false, errorType: "Never", errorMessage: "not invoked" }) },
      logger: silent(),
    });
    const context = { getRemainingTimeInMillis: () => 900_000 } as unknown as Context;
    const res = await satisfier.handler(
      { Records: [record({ stackId: "kd-a", task: "t1", token: "\uffff", machine: "" })] },
      context,
    );
    expect(res).toEqual({ batchItemFailures: [] });
  });
});
