import { createPool, createStateManager, databaseFromPool, getHistory } from "@stackseam/state-manager";
import { describe, expect, it } from "vitest";
import {
  completed,
  deliver,
  drainTasks,
  event,
  fileFixtures,
  fixtureMachines,
  manager,
  mustGetStack,
  silentLogger,
  sqsRecord,
  tokenOf,
} from "./helpers.js";

// The statement that reads a batch's stacks (stack-rows.ts, readStacks).
const BATCH_READ = /unnest\(\$1::text\[\]\) AS x\(id\)/;

// Before a batch's records run, the stacks they start by reading are read in one statement; each
// such record then only writes, guarded by the row version it was read at (state-manager.md).
describe("one read for a batch's stacks", () => {
  const f = fileFixtures();

  /** A container whose statements are listed; `onBatchRead` runs when the batch read returns, before the events go on. */
  function container(onBatchRead?: () => Promise<void>) {
    const statements: string[] = [];
    const batchReads: unknown[] = [];
    const pool = createPool(f.database.url, { max: 2, applicationName: "stackseam-test-batch-read" });
    pool.on("connect", (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const text = typeof args[0] === "string" ? args[0] : String((args[0] as { text?: string }).text);
        statements.push(text);
        if (BATCH_READ.test(text)) batchReads.push(args[1]);
        const result = query(...args);
        if (!onBatchRead || !BATCH_READ.test(text)) return result;
        return result.then(async (rows) => {
          await onBatchRead();
          return rows;
        });
      };
    });
    const db = databaseFromPool(pool);
    const sm = createStateManager({
      db,
      sqs: f.aws.sqs,
      taskQueueUrl: f.aws.taskQueueUrl,
      machines: fixtureMachines(),
      logger: silentLogger(),
      concurrency: 1,
    });
    return {
      sm,
      statements,
      batchReads,
      async close() {
        await sm.close();
        await db.destroy();
      },
    };
  }

  /** Stacks launched and in RUN, by another container. */
  async function running(other: ReturnType<typeof manager>, ids: string[]) {
    await deliver(other.sm, ...ids.map((id) => sqsRecord(event(id, "LAUNCH", { machine: "qa-env" }))));
    for (const id of ids) {
      const stack = await mustGetStack(other.db, id);
      await deliver(
        other.sm,
        ...stack.tasks.map((t) => sqsRecord(completed(id, t.name, tokenOf(stack, t.name)))),
      );
      expect((await mustGetStack(other.db, id)).state).toBe("RUN");
    }
    await drainTasks(f.aws.sqs, f.aws.taskQueueUrl);
  }

  it("reads ten stacks in one statement, then writes each: eleven statements for ten events", async () => {
    const other = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl);
    const ids = Array.from({ length: 10 }, (_, i) => `br-${i}`);
    const c = container();
    try {
      await running(other, ids);
      await deliver(c.sm, ...ids.map((id, i) => sqsRecord(event(id, "TOUCH", { metadata: { n: i } }))));
      expect(c.statements.filter((s) => BATCH_READ.test(s))).toHaveLength(1);
      expect(c.statements).toHaveLength(11);
      for (const [i, id] of ids.entries()) {
        expect((await mustGetStack(other.db, id)).metadata).toEqual({ n: i });
        const touches = (await getHistory(other.db, id)).filter((h) => h.event === "TOUCH");
        expect(touches.map((h) => [h.outcome, h.duplicate])).toEqual([["applied", false]]);
      }

      // A stack's second record in the batch reads the stack itself: the first has just written it.
      c.statements.length = 0;
      await deliver(
        c.sm,
        sqsRecord(event("br-0", "TOUCH", { metadata: { a: 1 } })),
        sqsRecord(event("br-1", "TOUCH", { metadata: { b: 1 } })),
        sqsRecord(event("br-0", "TOUCH", { metadata: { c: 1 } })),
      );
      // Batch read, br-0 write, br-0 read + write, br-1 write.
      expect(c.statements).toHaveLength(5);
      expect((await mustGetStack(other.db, "br-0")).metadata).toEqual({ n: 0, a: 1, c: 1 });
      expect((await mustGetStack(other.db, "br-1")).metadata).toEqual({ n: 1, b: 1 });
    } finally {
      await c.close();
      await other.close();
    }
  });

  it("decides again on a stack written between the batch's read and its event", async () => {
    const other = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl);
    await running(other, ["br-raced", "br-calm"]);
    // Another container touches br-raced after this container's batch read it.
    const c = container(async () => {
      await deliver(other.sm, sqsRecord(event("br-raced", "TOUCH", { metadata: { by: "other" } })));
    });
    try {
      await deliver(
        c.sm,
        sqsRecord(event("br-raced", "TOUCH", { metadata: { from: "batch" } })),
        sqsRecord(event("br-calm", "TOUCH", { metadata: { from: "batch" } })),
      );
      // Nothing lost: the other container's change and this batch's are both there.
      expect((await mustGetStack(other.db, "br-raced")).metadata).toEqual({ by: "other", from: "batch" });
      expect((await mustGetStack(other.db, "br-calm")).metadata).toEqual({ from: "batch" });
      const touches = (await getHistory(other.db, "br-raced")).filter((h) => h.event === "TOUCH");
      expect(touches.map((h) => [h.outcome, h.duplicate])).toEqual([
        ["applied", false],
        ["applied", false],
      ]);
      // Batch read; br-raced: the write finds the stack moved on (nothing written), read, write;
      // br-calm: write. The earlier read is used once only.
      expect(c.statements).toHaveLength(5);
    } finally {
      await c.close();
      await other.close();
    }
  });

  it("sends what a stack had left unsent when the batch read it, though its event sends nothing", async () => {
    const other = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl);
    await running(other, ["br-u1", "br-u2"]);
    // As an earlier attempt leaves them: written, never sent (its SendMessageBatch failed).
    await other.db.updateTable("outbox").set({ sent_at: null }).where("stack_id", "=", "br-u1").execute();
    const c = container();
    try {
      await deliver(c.sm, sqsRecord(event("br-u1", "TOUCH")), sqsRecord(event("br-u2", "TOUCH")));
      expect(c.statements.filter((s) => BATCH_READ.test(s))).toHaveLength(1);
      const unsent = await other.db.selectFrom("outbox").select("id").where("sent_at", "is", null).execute();
      expect(unsent).toEqual([]);
      const sent = await drainTasks(f.aws.sqs, f.aws.taskQueueUrl);
      expect(sent.map((m) => [m.stackId, m.task]).sort()).toEqual([
        ["br-u1", "apply-infra"],
        ["br-u1", "seed-data"],
      ]);
    } finally {
      await c.close();
      await other.close();
    }
  });

  it("applies an event to a stack created between the batch read (which found none) and its write", async () => {
    const other = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl);
    await running(other, ["br-early"]);
    let created = false;
    const c = container(async () => {
      if (created) return;
      created = true;
      await running(other, ["br-late"]);
    });
    try {
      await deliver(
        c.sm,
        sqsRecord(event("br-late", "TOUCH", { metadata: { late: true } })),
        sqsRecord(event("br-early", "TOUCH", { metadata: { early: true } })),
      );
      expect((await mustGetStack(other.db, "br-late")).metadata).toEqual({ late: true });
      const touches = (await getHistory(other.db, "br-late")).filter((h) => h.event === "TOUCH");
      expect(touches.map((h) => [h.outcome, h.duplicate])).toEqual([["applied", false]]);
      expect((await mustGetStack(other.db, "br-early")).metadata).toEqual({ early: true });
    } finally {
      await c.close();
      await other.close();
    }
  });

  it("refuses an event of a stack the batch read found missing, as when the event reads alone", async () => {
    const other = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl);
    await running(other, ["br-here"]);
    const c = container();
    try {
      await deliver(other.sm, sqsRecord(event("br-alone-missing", "TOUCH")));
      await deliver(
        c.sm,
        sqsRecord(event("br-here", "TOUCH", { metadata: { ok: true } })),
        sqsRecord(event("br-batch-missing", "TOUCH")),
      );
      expect(c.statements.filter((s) => BATCH_READ.test(s))).toHaveLength(1);
      const alone = await getHistory(other.db, "br-alone-missing");
      const batched = await getHistory(other.db, "br-batch-missing");
      const shape = (h: typeof alone, id: string) =>
        h.map((r) => [r.event, r.outcome, r.reason?.replace(id, "<id>"), r.from, r.to]);
      expect(batched).toHaveLength(1);
      expect(shape(batched, "br-batch-missing")).toEqual(shape(alone, "br-alone-missing"));
      expect((await mustGetStack(other.db, "br-here")).metadata).toEqual({ ok: true });
    } finally {
      await c.close();
      await other.close();
    }
  });

  it("lets each event read its own stack when the batch read fails", async () => {
    const other = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl);
    await running(other, ["br-f1", "br-f2"]);
    let fail = false;
    const c = container(async () => {
      if (fail) throw new Error("connection reset during the batch read");
    });
    try {
      // A container that has loaded the machine's version (a cold one reads again after loading it).
      await deliver(c.sm, sqsRecord(event("br-f1", "TOUCH")));
      c.statements.length = 0;
      fail = true;
      await deliver(
        c.sm,
        sqsRecord(event("br-f1", "TOUCH", { metadata: { x: 1 } })),
        sqsRecord(event("br-f2", "TOUCH", { metadata: { y: 2 } })),
      );
      // The failed batch read, then a read and a write per event.
      expect(c.statements).toHaveLength(5);
      expect((await mustGetStack(other.db, "br-f1")).metadata).toEqual({ x: 1 });
      expect((await mustGetStack(other.db, "br-f2")).metadata).toEqual({ y: 2 });
    } finally {
      await c.close();
      await other.close();
    }
  });

  it("keeps records refused before any read (hostile stack ids, nested metadata) out of the batch read", async () => {
    const other = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl);
    await running(other, ["br-h1", "br-h2"]);
    const c = container();
    const hostile = ['x"y', "a,b", "{NULL}", "../etc/passwd", "$(rm -rf /)", "x".repeat(10_000)];
    try {
      const res = await c.sm.processRecords([
        ...hostile.map((id) => sqsRecord(event(id, "TOUCH"))),
        sqsRecord(event("br-h1", "TOUCH", { metadata: { h: 1 } })),
        sqsRecord({ stackId: "br-h2", event: "TOUCH", metadata: { nested: { deep: true } } }),
        sqsRecord(event("br-h2", "TOUCH", { metadata: { h: 2 } })),
      ]);
      expect(res.batchItemFailures).toEqual([]);
      // br-h2's first record is refused (nested metadata): only br-h1 is valid first, so no batch read.
      expect(c.batchReads).toEqual([]);
      expect((await mustGetStack(other.db, "br-h1")).metadata).toEqual({ h: 1 });
      expect((await mustGetStack(other.db, "br-h2")).metadata).toEqual({ h: 2 });
      await deliver(
        c.sm,
        sqsRecord(event("../etc/passwd", "TOUCH")),
        sqsRecord(event("br-h1", "TOUCH")),
        sqsRecord(event("br-h2", "TOUCH")),
      );
      expect(c.batchReads).toEqual([[["br-h1", "br-h2"]]]);
    } finally {
      await c.close();
      await other.close();
    }
  });

  it("reads nothing ahead for records that create their stack, or for a single stack", async () => {
    const c = container();
    try {
      await deliver(
        c.sm,
        sqsRecord(event("br-new-1", "LAUNCH", { machine: "qa-env" })),
        sqsRecord(event("br-new-2", "LAUNCH", { machine: "qa-env" })),
      );
      await deliver(c.sm, sqsRecord(event("br-new-1", "TOUCH")), sqsRecord(event("br-new-1", "TOUCH")));
      expect(c.statements.filter((s) => BATCH_READ.test(s))).toHaveLength(0);
      await drainTasks(f.aws.sqs, f.aws.taskQueueUrl);
    } finally {
      await c.close();
    }
  });
});
