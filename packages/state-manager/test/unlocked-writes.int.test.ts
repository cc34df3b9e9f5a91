import {
  createPool,
  createStateManager,
  databaseFromPool,
  getHistory,
  getStack,
} from "@stackseam/state-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import {
  completed,
  deliver,
  drainTasks,
  event,
  fixtureMachines,
  manager,
  mustGetStack,
  silentLogger,
  sqsRecord,
  tokenOf,
} from "./helpers.js";

// An event is read and written by two statements without a transaction block; the write goes ahead
// only if the stack is still as read (decision-writes.ts, writeIfCurrent). These tests make the
// races happen on purpose.
describe("events written without a transaction block", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let a: ReturnType<typeof manager>;
  let b: ReturnType<typeof manager>;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    a = manager(database.url, aws.sqs, aws.taskQueueUrl, { applicationName: "stackseam-test-a" });
    b = manager(database.url, aws.sqs, aws.taskQueueUrl, { applicationName: "stackseam-test-b" });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await aws?.stop();
    await database?.drop();
  });

  async function launched(id: string): Promise<void> {
    await deliver(b.sm, sqsRecord(event(id, "LAUNCH", { machine: "qa-env" })));
    const stack = await mustGetStack(b.db, id);
    await deliver(b.sm, ...stack.tasks.map((t) => sqsRecord(completed(id, t.name, tokenOf(stack, t.name)))));
    expect((await mustGetStack(b.db, id)).state).toBe("RUN");
  }

  it("decides again on the stack as it is now when another container wrote it after the read", async () => {
    await launched("race-1");
    // A container whose first read of race-1 returns only after container b applied a TOUCH to it.
    let reads = 0;
    const pool = createPool(database.url, { max: 1, applicationName: "stackseam-test-raced" });
    pool.on("connect", (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const [text, values] = args as [unknown, unknown];
        const reading =
          typeof text === "string" &&
          /FROM stacks s WHERE s\.id/.test(text) &&
          JSON.stringify(values) === '["race-1"]';
        if (!reading) return query(...args);
        reads += 1;
        return query(...args).then(async (result) => {
          if (reads === 1)
            await deliver(b.sm, sqsRecord(event("race-1", "TOUCH", { metadata: { by: "b" } })));
          return result;
        });
      };
    });
    const db = databaseFromPool(pool);
    const raced = createStateManager({
      db,
      sqs: aws.sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines: fixtureMachines(),
      logger: silentLogger(),
      concurrency: 1,
    });
    try {
      await deliver(raced, sqsRecord(event("race-1", "TOUCH", { metadata: { from: "raced" } })));
      // Read, write refused (the stack moved on), read again, write.
      expect(reads).toBe(2);
    } finally {
      await raced.close();
      await db.destroy();
    }
    const stack = await mustGetStack(a.db, "race-1");
    expect(stack.metadata).toEqual({ by: "b", from: "raced" });
    const touches = (await getHistory(a.db, "race-1")).filter((h) => h.event === "TOUCH");
    expect(touches.map((h) => [h.outcome, h.duplicate])).toEqual([
      ["applied", false],
      ["applied", false],
    ]);
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });

  it("does not create a stack again for a first event delivered again after the stack was removed", async () => {
    const launch = sqsRecord(event("gone-1", "LAUNCH", { machine: "qa-env", eventId: "launch-gone-1" }));
    await deliver(a.sm, launch);
    let stack = await mustGetStack(a.db, "gone-1");
    await deliver(
      a.sm,
      ...stack.tasks.map((t) => sqsRecord(completed("gone-1", t.name, tokenOf(stack, t.name)))),
    );
    await deliver(a.sm, sqsRecord(event("gone-1", "DESTROY")));
    stack = await mustGetStack(a.db, "gone-1");
    expect(stack.state).toBe("TEARDOWN");
    await deliver(
      a.sm,
      ...stack.tasks.map((t) => sqsRecord(completed("gone-1", t.name, tokenOf(stack, t.name)))),
    );
    expect(await getStack(a.db, "gone-1")).toBeNull();

    // The stack row is inserted by the same statement that finds the key known: it undoes itself.
    await deliver(a.sm, { ...launch });
    expect(await getStack(a.db, "gone-1")).toBeNull();
    const launches = (await getHistory(a.db, "gone-1")).filter((h) => h.eventKey === "launch-gone-1");
    expect(launches.map((h) => [h.outcome, h.duplicate])).toEqual([
      ["applied", false],
      ["ignored", true],
    ]);
    const outbox = await a.db.selectFrom("outbox").select("task").where("stack_id", "=", "gone-1").execute();
    // apply-infra, seed-data, destroy-infra: nothing for the redelivered LAUNCH.
    expect(outbox.map((o) => o.task).sort()).toEqual(["apply-infra", "destroy-infra", "seed-data"]);
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });
});
