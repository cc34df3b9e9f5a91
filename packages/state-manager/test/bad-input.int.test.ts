import { getHistory } from "@stackseam/state-manager";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { deliver, drainTasks, event, manager, mustGetStack, sqsRecord } from "./helpers.js";

describe("permanently bad messages are refused, recorded and acknowledged", () => {
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
  beforeEach(async () => {
    await m.db.deleteFrom("history").execute();
    await m.db.deleteFrom("stacks").execute();
    await m.db.deleteFrom("outbox").execute();
  });

  /** Delivers one body, expects it acknowledged, and returns the history rows of `stackId`. */
  async function refuse(body: unknown, stackId?: string) {
    const record = sqsRecord(body);
    const res = await m.sm.processRecords([record]);
    expect(res.batchItemFailures).toEqual([]);
    const stacks = await m.db.selectFrom("stacks").select("id").execute();
    const outbox = await m.db.selectFrom("outbox").select("id").execute();
    expect(stacks).toEqual([]);
    expect(outbox).toEqual([]);
    const history = await m.db.selectFrom("history").selectAll().execute();
    if (stackId === undefined) {
      expect(history).toEqual([]);
      return null;
    }
    expect(history).toHaveLength(1);
    const row = history[0]!;
    expect(row).toMatchObject({ stack_id: stackId, outcome: "refused", event_key: record.messageId });
    return row;
  }

  it("invalid JSON: logged and acknowledged; no stackId to record", async () => {
    await refuse('{"stackId": "x", "event": ');
  });

  it("a schema violation (unknown field)", async () => {
    const row = await refuse({ stackId: "s-1", event: "LAUNCH", machine: "qa-env", colour: "blue" }, "s-1");
    expect(row?.reason).toMatch(/colour/);
    expect(row?.event).toBe("LAUNCH");
  });

  it("an unknown machine", async () => {
    const row = await refuse(event("s-2", "LAUNCH", { machine: "no-such-machine" }), "s-2");
    expect(row?.reason).toMatch(/unknown machine "no-such-machine"/);
  });

  it("the first event of a stack without a machine", async () => {
    const row = await refuse(event("s-3", "LAUNCH"), "s-3");
    expect(row?.reason).toMatch(/must name a machine/);
  });

  it("an event the machine does not declare", async () => {
    const row = await refuse(event("s-4", "EXPLODE", { machine: "qa-env" }), "s-4");
    expect(row?.reason).toMatch(/unknown event EXPLODE/);
  });

  it("NEXT sent from outside", async () => {
    const row = await refuse(event("s-5", "NEXT", { machine: "qa-env" }), "s-5");
    expect(row?.reason).toMatch(/NEXT is internal/);
  });

  it("nested metadata", async () => {
    const row = await refuse(
      event("s-6", "LAUNCH", { machine: "qa-env", metadata: { db: { size: "xl" } } }),
      "s-6",
    );
    expect(row?.reason).toMatch(/metadata/);
  });

  it("a 300 KB metadata value", async () => {
    const row = await refuse(
      event("s-7", "LAUNCH", { machine: "qa-env", metadata: { blob: "x".repeat(300_000) } }),
      "s-7",
    );
    expect(row?.reason).toMatch(/blob/);
  });

  it("metadata that fits the schema but would make task messages exceed the SQS limit", async () => {
    const metadata = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, "y".repeat(16_000)]));
    const row = await refuse(event("s-8", "LAUNCH", { machine: "qa-env", metadata }), "s-8");
    expect(row?.reason).toMatch(/over the SQS limit/);
  });

  it.each([
    ["quotes and SQL", "x'; DROP TABLE stacks; --"],
    ["emoji", "stack-🔥"],
    ["a path", "../../etc/passwd"],
  ])("a stackId with %s is refused without touching the database", async (_, stackId) => {
    await refuse(event(stackId, "LAUNCH", { machine: "qa-env" }));
    // The tables are intact.
    expect(await m.db.selectFrom("stacks").select("id").execute()).toEqual([]);
  });

  it("an event the current state does not handle leaves the stack as it was", async () => {
    await deliver(m.sm, sqsRecord(event("s-9", "LAUNCH", { machine: "qa-env" })));
    await drainTasks(aws.sqs, aws.taskQueueUrl);
    const before = await mustGetStack(m.db, "s-9");
    const res = await m.sm.processRecords([
      sqsRecord(event("s-9", "DESTROY", { metadata: { why: "nope" } })),
    ]);
    expect(res.batchItemFailures).toEqual([]);
    expect(await mustGetStack(m.db, "s-9")).toEqual(before);
    const last = (await getHistory(m.db, "s-9")).at(-1);
    expect(last).toMatchObject({ event: "DESTROY", outcome: "refused", from: "PROVISION", to: "PROVISION" });
    expect(last?.reason).toMatch(/does not handle DESTROY/);
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);
  });

  it("an event naming another machine than the stack's", async () => {
    await deliver(m.sm, sqsRecord(event("s-10", "LAUNCH", { machine: "qa-env" })));
    await drainTasks(aws.sqs, aws.taskQueueUrl);
    await deliver(m.sm, sqsRecord(event("s-10", "TOUCH", { machine: "fanout" })));
    const last = (await getHistory(m.db, "s-10")).at(-1);
    expect(last).toMatchObject({ outcome: "refused" });
    expect(last?.reason).toMatch(/runs machine qa-env/);
  });

  it("a bad record does not hold up the good ones in its batch", async () => {
    const good = sqsRecord(event("s-11", "LAUNCH", { machine: "qa-env" }));
    const res = await m.sm.processRecords([sqsRecord("not json"), good, sqsRecord(event("s-11", "NEXT"))]);
    expect(res.batchItemFailures).toEqual([]);
    expect((await mustGetStack(m.db, "s-11")).state).toBe("PROVISION");
    expect((await getHistory(m.db, "s-11")).map((h) => h.outcome)).toEqual(["applied", "refused"]);
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toHaveLength(2);
  });
});
