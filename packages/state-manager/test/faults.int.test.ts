import { SQSClient } from "@aws-sdk/client-sqs";
import {
  createPool,
  createStateManager,
  databaseFromPool,
  getHistory,
  getStack,
} from "@stackseam/state-manager";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import {
  deliver,
  drainTasks,
  event,
  fixtureMachines,
  manager,
  mustGetStack,
  silentLogger,
  sqsRecord,
} from "./helpers.js";

describe("faults", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let admin: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    admin = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await aws?.stop();
    await database?.drop();
  });

  it("returns the records whose database connection died mid-transaction; redelivery completes them", async () => {
    const appName = "stackseam-fault-test";
    // Stack b's first write is the statement that creates it, inside its transaction (after BEGIN):
    // terminating our sessions just before it runs kills that transaction halfway.
    const pool = createPool(database.url, { max: 2, applicationName: appName });
    let killed = false;
    pool.on("connect", (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const [text, values] = args as [unknown, unknown];
        const sqlText = typeof text === "string" ? text : "";
        if (!killed && sqlText.includes("INSERT INTO stacks") && JSON.stringify(values).includes("kill-b")) {
          killed = true;
          return admin
            .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
              appName,
            ])
            .then(() => query(...args));
        }
        return query(...args);
      };
    });
    const db = databaseFromPool(pool);
    const sm = createStateManager({
      db,
      sqs: aws.sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines: fixtureMachines(),
      logger: silentLogger(),
      concurrency: 1,
    });
    const m = {
      sm,
      db,
      async close() {
        await sm.close();
        await db.destroy();
      },
    };
    try {
      const a = sqsRecord(event("kill-a", "LAUNCH", { machine: "qa-env" }));
      const b1 = sqsRecord(event("kill-b", "LAUNCH", { machine: "qa-env" }));
      const b2 = sqsRecord(event("kill-b", "TOUCH", { metadata: { touched: true } }));
      const c = sqsRecord(event("kill-c", "LAUNCH", { machine: "qa-env" }));
      const res = await m.sm.processRecords([a, b1, b2, c]);
      const failed = res.batchItemFailures.map((f) => f.itemIdentifier);
      // b1 died mid-transaction, b2 must not overtake it; c may also have drawn a dead pooled connection.
      expect(failed).toEqual(expect.arrayContaining([b1.messageId, b2.messageId]));
      expect(failed).not.toContain(a.messageId);
      expect(failed.every((id) => [b1.messageId, b2.messageId, c.messageId].includes(id))).toBe(true);

      // Nothing of b was half-written.
      expect(await getStack(m.db, "kill-b")).toBeNull();
      expect(await getHistory(m.db, "kill-b")).toEqual([]);
      expect(await m.db.selectFrom("outbox").select("id").where("stack_id", "=", "kill-b").execute()).toEqual(
        [],
      );

      const redelivered = [a, b1, b2, c].filter((r) => failed.includes(r.messageId));
      await deliver(m.sm, ...redelivered);
      for (const id of ["kill-a", "kill-b", "kill-c"])
        expect((await mustGetStack(m.db, id)).state).toBe("PROVISION");
      expect((await mustGetStack(m.db, "kill-b")).metadata).toEqual({ touched: true });
      expect((await getHistory(m.db, "kill-b")).map((h) => [h.event, h.outcome])).toEqual([
        ["LAUNCH", "applied"],
        ["TOUCH", "applied"],
      ]);
      const tasks = await drainTasks(aws.sqs, aws.taskQueueUrl);
      expect(tasks).toHaveLength(6);
      expect(new Set(tasks.map((t) => t.token)).size).toBe(6);
    } finally {
      await m.close();
    }
  });

  /** An SQS client whose next `times` SendMessageBatch calls fail, as a network error would. */
  function flakySqs(times: number): { sqs: SQSClient; attempts: () => number } {
    let left = times;
    let attempts = 0;
    const sqs = new SQSClient({
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "SendMessageBatchCommand") {
          attempts += 1;
          if (left > 0) {
            left -= 1;
            throw Object.assign(new Error("socket hang up (injected)"), { name: "NetworkingError" });
          }
        }
        return next(args);
      },
      { step: "initialize", name: "injectSendFailure" },
    );
    return { sqs, attempts: () => attempts };
  }

  it("sends the outbox on redelivery when SendMessageBatch failed after commit", async () => {
    const flaky = flakySqs(1);
    const m = manager(database.url, flaky.sqs, aws.taskQueueUrl);
    try {
      const launch = sqsRecord(event("flush-1", "LAUNCH", { machine: "qa-env" }));
      const res = await m.sm.processRecords([launch]);
      expect(res.batchItemFailures).toEqual([{ itemIdentifier: launch.messageId }]);
      // The transition committed; its task messages wait in the outbox.
      const stack = await mustGetStack(m.db, "flush-1");
      expect(stack.state).toBe("PROVISION");
      expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);
      const unsent = await m.db.selectFrom("outbox").select("token").where("sent_at", "is", null).execute();
      expect(unsent).toHaveLength(2);

      // SQS redelivers the same message: a duplicate that changes nothing but flushes the outbox.
      await deliver(m.sm, launch);
      const tasks = await drainTasks(aws.sqs, aws.taskQueueUrl);
      expect(tasks.map((t) => t.token).sort()).toEqual(stack.tasks.map((t) => t.token).sort());
      expect(await mustGetStack(m.db, "flush-1")).toEqual(stack);
      expect((await getHistory(m.db, "flush-1")).map((h) => [h.outcome, h.duplicate])).toEqual([
        ["applied", false],
        ["ignored", true],
      ]);

      // A third delivery sends nothing more.
      await deliver(m.sm, launch);
      expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);
      expect(flaky.attempts()).toBe(2);
    } finally {
      await m.close();
      flaky.sqs.destroy();
    }
  });

  it("sends a stack's leftover task messages with its next event, whatever that event is", async () => {
    const flaky = flakySqs(1);
    const m = manager(database.url, flaky.sqs, aws.taskQueueUrl);
    try {
      const launch = sqsRecord(event("flush-2", "LAUNCH", { machine: "qa-env" }));
      const touch = sqsRecord(event("flush-2", "TOUCH", { metadata: { note: "hi" } }));
      const res = await m.sm.processRecords([launch, touch]);
      // The touch must not overtake the launch whose send failed.
      expect(res.batchItemFailures).toEqual([
        { itemIdentifier: launch.messageId },
        { itemIdentifier: touch.messageId },
      ]);
      expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);

      await deliver(m.sm, touch);
      const stack = await mustGetStack(m.db, "flush-2");
      expect(stack.metadata).toEqual({ note: "hi" });
      const tasks = await drainTasks(aws.sqs, aws.taskQueueUrl);
      expect(tasks.map((t) => t.token).sort()).toEqual(stack.tasks.map((t) => t.token).sort());

      await deliver(m.sm, launch);
      expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);
    } finally {
      await m.close();
      flaky.sqs.destroy();
    }
  });

  /** An SQS client that counts SendMessageBatch calls and has SQS refuse the entries of `refuse` stacks. */
  function refusingSqs(refuse: readonly string[]): { sqs: SQSClient; sends: () => number } {
    let sends = 0;
    const sqs = new SQSClient({
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "SendMessageBatchCommand") return next(args);
        sends += 1;
        const input = args.input as { QueueUrl: string; Entries: { Id: string; MessageBody: string }[] };
        const refused = input.Entries.filter((e) => refuse.includes(JSON.parse(e.MessageBody).stackId));
        const kept = input.Entries.filter((e) => !refused.includes(e));
        const out = (
          kept.length > 0 ? await next({ ...args, input: { ...input, Entries: kept } }) : { output: {} }
        ) as { output: { Successful?: unknown[]; Failed?: unknown[] } };
        out.output.Failed = [
          ...(out.output.Failed ?? []),
          ...refused.map((e) => ({
            Id: e.Id,
            Code: "InternalError",
            SenderFault: false,
            Message: "injected",
          })),
        ];
        return out as Awaited<ReturnType<typeof next>>;
      },
      { step: "initialize", name: "refuseEntries" },
    );
    return { sqs, sends: () => sends };
  }

  it("flushes the outbox once per batch: every dispatch of several stacks sent exactly once", async () => {
    const counting = refusingSqs([]);
    const m = manager(database.url, counting.sqs, aws.taskQueueUrl);
    try {
      const ids = ["batch-1", "batch-2", "batch-3", "batch-4", "batch-5", "batch-6"];
      const launches = ids.map((id) => sqsRecord(event(id, "LAUNCH", { machine: "qa-env" })));
      const res = await m.sm.processRecords(launches);
      expect(res.batchItemFailures).toEqual([]);
      // 12 task messages (two per stack), at most 10 per SendMessageBatch: two sends, not six.
      expect(counting.sends()).toBe(2);
      const tasks = await drainTasks(aws.sqs, aws.taskQueueUrl);
      const expected = (await Promise.all(ids.map((id) => mustGetStack(m.db, id)))).flatMap((s) =>
        s.tasks.map((t) => t.token),
      );
      expect(tasks.map((t) => t.token).sort()).toEqual(expected.sort());
      const unsent = await m.db.selectFrom("outbox").select("id").where("sent_at", "is", null).execute();
      expect(unsent).toEqual([]);

      // A batch that dispatches nothing sends nothing (one query finds nothing unsent).
      const touches = ids.map((id) => sqsRecord(event(id, "TOUCH", { metadata: { n: 1 } })));
      expect((await m.sm.processRecords(touches)).batchItemFailures).toEqual([]);
      expect(counting.sends()).toBe(2);
      expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);
    } finally {
      await m.close();
      counting.sqs.destroy();
    }
  });

  it("returns only the records of the stacks whose task messages were not sent", async () => {
    const refusing = refusingSqs(["part-y"]);
    const m = manager(database.url, refusing.sqs, aws.taskQueueUrl);
    const flaky = flakySqs(1);
    const m2 = manager(database.url, flaky.sqs, aws.taskQueueUrl);
    try {
      const quiet = sqsRecord(event("part-quiet", "LAUNCH", { machine: "qa-env" }));
      await deliver(m.sm, quiet);
      expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toHaveLength(2);

      // SQS refuses part-y's entries only: part-x's messages go out, part-quiet had none waiting.
      const x = sqsRecord(event("part-x", "LAUNCH", { machine: "qa-env" }));
      const touch = sqsRecord(event("part-quiet", "TOUCH", { metadata: { n: 1 } }));
      const y1 = sqsRecord(event("part-y", "LAUNCH", { machine: "qa-env" }));
      const y2 = sqsRecord(event("part-y", "TOUCH", { metadata: { n: 2 } }));
      const res = await m.sm.processRecords([x, touch, y1, y2]);
      expect(res.batchItemFailures).toEqual([
        { itemIdentifier: y1.messageId },
        { itemIdentifier: y2.messageId },
      ]);
      const xStack = await mustGetStack(m.db, "part-x");
      expect((await drainTasks(aws.sqs, aws.taskQueueUrl)).map((t) => t.token).sort()).toEqual(
        xStack.tasks.map((t) => t.token).sort(),
      );
      // part-y's events were applied; only its messages wait.
      const yStack = await mustGetStack(m.db, "part-y");
      expect(yStack.metadata).toEqual({ n: 2 });

      // The whole SendMessageBatch fails: only the stack with messages waiting is returned.
      const z = sqsRecord(event("part-z", "LAUNCH", { machine: "qa-env" }));
      const touch2 = sqsRecord(event("part-quiet", "TOUCH", { metadata: { n: 3 } }));
      const res2 = await m2.sm.processRecords([touch2, z]);
      expect(res2.batchItemFailures).toEqual([{ itemIdentifier: z.messageId }]);
      expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);

      // Redelivered (duplicates), the returned records flush what their stacks left unsent.
      await deliver(m2.sm, y1, y2, z);
      const zStack = await mustGetStack(m.db, "part-z");
      expect((await drainTasks(aws.sqs, aws.taskQueueUrl)).map((t) => t.token).sort()).toEqual(
        [...yStack.tasks, ...zStack.tasks].map((t) => t.token).sort(),
      );
      expect(await mustGetStack(m.db, "part-y")).toEqual(yStack);
      expect((await getHistory(m.db, "part-y")).map((h) => [h.event, h.outcome, h.duplicate])).toEqual([
        ["LAUNCH", "applied", false],
        ["TOUCH", "applied", false],
        ["LAUNCH", "ignored", true],
        ["TOUCH", "ignored", true],
      ]);
      const unsent = await m.db.selectFrom("outbox").select("id").where("sent_at", "is", null).execute();
      expect(unsent).toEqual([]);
    } finally {
      await m.close();
      await m2.close();
      refusing.sqs.destroy();
      flaky.sqs.destroy();
    }
  });

  it("never sends one outbox row twice when two containers flush the same stack at once", async () => {
    const flaky = flakySqs(1);
    const broken = manager(database.url, flaky.sqs, aws.taskQueueUrl);
    const others = [0, 1, 2, 3].map(() => manager(database.url, aws.sqs, aws.taskQueueUrl));
    try {
      const launch = sqsRecord(event("flush-3", "LAUNCH", { machine: "qa-env" }));
      expect((await broken.sm.processRecords([launch])).batchItemFailures).toHaveLength(1);
      // Four containers receive the redelivered message at the same moment.
      const results = await Promise.all(others.map((o) => o.sm.processRecords([launch])));
      for (const r of results) expect(r.batchItemFailures).toEqual([]);
      const tasks = await drainTasks(aws.sqs, aws.taskQueueUrl);
      expect(tasks).toHaveLength(2);
      expect(new Set(tasks.map((t) => t.token)).size).toBe(2);
    } finally {
      await broken.close();
      await Promise.all(others.map((o) => o.close()));
      flaky.sqs.destroy();
    }
  });
});
