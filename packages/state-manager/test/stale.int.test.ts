import { getHistory } from "@stackseam/state-manager";
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
  sqsRecord,
  tokenOf,
} from "./helpers.js";

describe("late and stale reports", () => {
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

  it("ignores a TASK_COMPLETED whose token belongs to a state the stack has left, and records it", async () => {
    const id = "stale-1";
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "qa-env" })));
    const provision = await mustGetStack(m.db, id);
    const oldApply = tokenOf(provision, "apply-infra");
    await deliver(
      m.sm,
      sqsRecord(completed(id, "apply-infra", oldApply)),
      sqsRecord(completed(id, "seed-data", tokenOf(provision, "seed-data"))),
    );
    const run = await mustGetStack(m.db, id);
    expect(run.state).toBe("RUN");

    // A second Task Satisfier run of the same dispatch reports late, with a new SQS message id.
    const res = await m.sm.processRecords([sqsRecord(completed(id, "apply-infra", oldApply))]);
    expect(res.batchItemFailures).toEqual([]);
    const after = await mustGetStack(m.db, id);
    expect(after).toEqual(run);
    const last = (await getHistory(m.db, id)).at(-1);
    expect(last).toMatchObject({
      event: "TASK_COMPLETED",
      outcome: "ignored",
      from: "RUN",
      to: "RUN",
      task: "apply-infra",
    });
    expect(last?.reason).toMatch(/stale report/);
    expect(last?.token).toBe(oldApply);
  });

  it("ignores a report for an earlier attempt after RETRY_FAILED_TASKS re-dispatched the task", async () => {
    const id = "stale-2";
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "qa-env" })));
    await drainTasks(aws.sqs, aws.taskQueueUrl);
    const first = await mustGetStack(m.db, id);
    const attempt1 = tokenOf(first, "apply-infra");
    await deliver(
      m.sm,
      sqsRecord({
        stackId: id,
        event: "TASK_ERROR",
        task: "apply-infra",
        token: attempt1,
        description: "Error: quota",
      }),
    );
    let stack = await mustGetStack(m.db, id);
    expect(stack.tasks.find((t) => t.name === "apply-infra")).toMatchObject({
      status: "ERROR",
      description: "Error: quota",
    });

    await deliver(m.sm, sqsRecord(event(id, "RETRY_FAILED_TASKS")));
    stack = await mustGetStack(m.db, id);
    const retried = stack.tasks.find((t) => t.name === "apply-infra");
    expect(retried).toMatchObject({ status: "PENDING", attempt: 2 });
    expect(retried?.token).not.toBe(attempt1);
    const resent = await drainTasks(aws.sqs, aws.taskQueueUrl);
    expect(resent.map((t) => [t.task, t.attempt, t.token])).toEqual([["apply-infra", 2, retried?.token]]);

    await deliver(m.sm, sqsRecord(completed(id, "apply-infra", attempt1)));
    stack = await mustGetStack(m.db, id);
    expect(stack.tasks.find((t) => t.name === "apply-infra")?.status).toBe("PENDING");
    const last = (await getHistory(m.db, id)).at(-1);
    expect(last).toMatchObject({ outcome: "ignored", task: "apply-infra" });
    expect(last?.reason).toMatch(/earlier dispatch/);
  });

  it("ignores a report for a stack that no longer exists", async () => {
    const res = await m.sm.processRecords([sqsRecord(completed("gone-1", "apply-infra", "tok-x"))]);
    expect(res.batchItemFailures).toEqual([]);
    const history = await getHistory(m.db, "gone-1");
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ outcome: "ignored", from: null });
    expect(history[0]?.reason).toMatch(/does not exist/);
    expect(await m.db.selectFrom("stacks").select("id").where("id", "=", "gone-1").execute()).toEqual([]);
  });
});
