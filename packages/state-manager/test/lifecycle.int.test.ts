import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { getHistory, getStack, listStacks } from "@stackseam/state-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import {
  completed,
  deliver,
  drainTasks,
  event,
  manager,
  mustGetStack,
  recordFromMessage,
  sqsRecord,
  tokenOf,
} from "./helpers.js";

describe("a stack's whole life, driven by SQS records", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let m: ReturnType<typeof manager>;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    m = manager(database.url, aws.sqs, aws.taskQueueUrl);
  });
  afterAll(async () => {
    await m?.close();
    await aws?.stop();
    await database?.drop();
  });

  it("goes INIT → PROVISION → RUN → TEARDOWN → removed, sending one task message per task", async () => {
    const id = "feature-123";
    // The first event travels through the real (faux) event queue, as a publisher would send it.
    await aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: aws.eventQueueUrl,
        MessageBody: JSON.stringify(
          event(id, "LAUNCH", { machine: "qa-env", metadata: { apiImageTag: "e724e90" } }),
        ),
      }),
    );
    const received = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.eventQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect(received.Messages).toHaveLength(1);
    await deliver(m.sm, ...(received.Messages ?? []).map(recordFromMessage));

    let stack = await mustGetStack(m.db, id);
    expect(stack).toMatchObject({
      machine: "qa-env",
      state: "PROVISION",
      metadata: { apiImageTag: "e724e90" },
    });
    expect(stack.tasks.map((t) => [t.name, t.status, t.attempt])).toEqual([
      ["apply-infra", "PENDING", 1],
      ["seed-data", "PENDING", 1],
    ]);

    const provision = await drainTasks(aws.sqs, aws.taskQueueUrl);
    expect(provision.map((t) => t.task).sort()).toEqual(["apply-infra", "seed-data"]);
    for (const t of provision) {
      expect(t).toMatchObject({
        stackId: id,
        machine: "qa-env",
        state: "PROVISION",
        metadata: { apiImageTag: "e724e90" },
      });
      expect(t.token).toBe(tokenOf(stack, t.task));
      expect(t.attempt).toBe(1);
    }
    expect(provision.find((t) => t.task === "apply-infra")).toMatchObject({
      executor: "terraform",
      config: {
        action: "apply",
        source: { type: "local", location: "/opt/infra" },
        variables: { environment: "qa" },
      },
    });
    expect(provision.find((t) => t.task === "seed-data")).toMatchObject({
      executor: "lambda",
      config: { name: "seed-env", args: { size: "small" } },
    });

    await deliver(m.sm, sqsRecord(completed(id, "apply-infra", tokenOf(stack, "apply-infra"))));
    stack = await mustGetStack(m.db, id);
    expect(stack.state).toBe("PROVISION");
    expect(stack.tasks.find((t) => t.name === "apply-infra")?.status).toBe("SATISFIED");

    await deliver(m.sm, sqsRecord(completed(id, "seed-data", tokenOf(stack, "seed-data"))));
    stack = await mustGetStack(m.db, id);
    expect(stack.state).toBe("RUN");
    expect(stack.tasks).toEqual([]);
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);

    await deliver(m.sm, sqsRecord(event(id, "TOUCH", { metadata: { owner: "qa-team", replicas: 2 } })));
    stack = await mustGetStack(m.db, id);
    expect(stack.state).toBe("RUN");
    expect(stack.metadata).toEqual({ apiImageTag: "e724e90", owner: "qa-team", replicas: 2 });

    await deliver(m.sm, sqsRecord(event(id, "DESTROY")));
    stack = await mustGetStack(m.db, id);
    expect(stack.state).toBe("TEARDOWN");
    const teardown = await drainTasks(aws.sqs, aws.taskQueueUrl);
    expect(teardown).toHaveLength(1);
    expect(teardown[0]).toMatchObject({
      task: "destroy-infra",
      state: "TEARDOWN",
      token: tokenOf(stack, "destroy-infra"),
      metadata: { apiImageTag: "e724e90", owner: "qa-team", replicas: 2 },
    });

    await deliver(m.sm, sqsRecord(completed(id, "destroy-infra", tokenOf(stack, "destroy-infra"))));
    expect(await getStack(m.db, id)).toBeNull();
    expect(await listStacks(m.db)).toEqual([]);

    const history = await getHistory(m.db, id);
    expect(history.map((h) => [h.event, h.outcome, h.from, h.to])).toEqual([
      ["LAUNCH", "applied", null, "PROVISION"],
      ["TASK_COMPLETED", "applied", "PROVISION", "PROVISION"],
      ["TASK_COMPLETED", "applied", "PROVISION", "RUN"],
      ["TOUCH", "applied", "RUN", "RUN"],
      ["DESTROY", "applied", "RUN", "TEARDOWN"],
      ["TASK_COMPLETED", "applied", "TEARDOWN", "TEARDOWN"],
    ]);
    expect(history[0]?.path).toEqual(["PROVISION"]);
    expect(history[2]?.path).toEqual(["RUN"]);
    expect(history[2]?.task).toBe("seed-data");
    expect(history[5]?.detail).toMatchObject({ removed: true });

    const unsent = await m.db.selectFrom("outbox").select("id").where("sent_at", "is", null).execute();
    expect(unsent).toEqual([]);
  });

  it("lets a removed stack's id start a new stack, keeping the old history", async () => {
    const id = "feature-123";
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "qa-env" })));
    const stack = await mustGetStack(m.db, id);
    expect(stack.state).toBe("PROVISION");
    // The new stack's metadata starts empty: nothing leaks from the previous life.
    expect(stack.metadata).toEqual({});
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toHaveLength(2);
    const history = await getHistory(m.db, id);
    expect(history).toHaveLength(7);
    expect(history.at(-1)).toMatchObject({
      event: "LAUNCH",
      outcome: "applied",
      from: null,
      to: "PROVISION",
    });
  });

  it("accepts the legacy action field and a publisher's eventId as the idempotency key", async () => {
    const id = "legacy-1";
    const body = { stackId: id, action: "LAUNCH", machine: "qa-env", eventId: "deploy-42" };
    await deliver(m.sm, sqsRecord(body), sqsRecord(body));
    const history = await getHistory(m.db, id);
    expect(history.map((h) => [h.event, h.outcome, h.eventKey, h.duplicate])).toEqual([
      ["LAUNCH", "applied", "deploy-42", false],
      ["LAUNCH", "ignored", "deploy-42", true],
    ]);
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toHaveLength(2);
  });

  it("processes records of several stacks in one batch, each stack in arrival order", async () => {
    const ids = ["batch-a", "batch-b", "batch-c"];
    const records = ids.flatMap((id) => [
      sqsRecord(event(id, "LAUNCH", { machine: "qa-env" })),
      sqsRecord(event(id, "TOUCH", { metadata: { step: 1 } })),
      sqsRecord(event(id, "TOUCH", { metadata: { step: 2 } })),
    ]);
    await deliver(m.sm, ...records);
    for (const id of ids) {
      const stack = await mustGetStack(m.db, id);
      expect(stack.state).toBe("PROVISION");
      expect(stack.metadata).toEqual({ step: 2 });
      expect((await getHistory(m.db, id)).map((h) => h.outcome)).toEqual(["applied", "applied", "applied"]);
    }
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toHaveLength(6);
  });
});
