import type { TaskMessage } from "@stackseam/core";
import { getHistory, getStack } from "@stackseam/state-manager";
import type { SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { completed, drainTasks, event, manager, mustGetStack, sqsRecord } from "./helpers.js";

/** A small seeded PRNG (mulberry32), so a failing shuffle can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const STACKS = ["r-1", "r-2", "r-3", "r-4", "r-5", "r-6"];

describe("every message delivered twice, in shuffled order, to two containers at once", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let containers: ReturnType<typeof manager>[];

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    containers = [0, 1].map(() => manager(database.url, aws.sqs, aws.taskQueueUrl));
  });
  afterAll(async () => {
    await Promise.all((containers ?? []).map((c) => c.close()));
    await aws?.stop();
    await database?.drop();
  });

  /**
   * Plays SQS and a Task Satisfier: every record goes out twice (same message id), batches are
   * shuffled and split over the two containers; each task message received is answered with a
   * TASK_COMPLETED, itself delivered twice. Runs until nothing is left to deliver.
   */
  async function settle(initial: SQSRecord[], random: () => number, seen: TaskMessage[]): Promise<void> {
    let pending = initial.flatMap((r) => [r, { ...r }]);
    while (pending.length > 0) {
      const batch = shuffle(pending, random);
      pending = [];
      const chunks: SQSRecord[][] = [];
      for (let i = 0; i < batch.length; i += 10) chunks.push(batch.slice(i, i + 10));
      for (let i = 0; i < chunks.length; i += 2) {
        const pair = chunks.slice(i, i + 2);
        const results = await Promise.all(pair.map((chunk, j) => containers[j]!.sm.processRecords(chunk)));
        for (const r of results) expect(r.batchItemFailures).toEqual([]);
      }
      const tasks = await drainTasks(aws.sqs, aws.taskQueueUrl);
      seen.push(...tasks);
      for (const t of tasks) {
        const report = sqsRecord(completed(t.stackId, t.task, t.token));
        pending.push(report, { ...report });
      }
    }
  }

  it("reaches the same final state with exactly one task message per dispatch token", async () => {
    const random = rng(20240611);
    const seen: TaskMessage[] = [];
    const db = containers[0]!.db;

    await settle(
      STACKS.map((id) => sqsRecord(event(id, "LAUNCH", { machine: "qa-env", metadata: { id } }))),
      random,
      seen,
    );
    for (const id of STACKS) {
      const stack = await mustGetStack(db, id);
      expect(stack.state).toBe("RUN");
      expect(stack.metadata).toEqual({ id });
    }

    await settle(
      STACKS.map((id) => sqsRecord(event(id, "DESTROY"))),
      random,
      seen,
    );
    for (const id of STACKS) {
      expect(await getStack(db, id)).toBeNull();
      const history = await getHistory(db, id);
      const firsts = history.filter((h) => !h.duplicate);
      // LAUNCH, 2 completions, DESTROY, 1 completion: each applied once, whatever the order.
      expect(firsts.map((h) => h.outcome)).toEqual(["applied", "applied", "applied", "applied", "applied"]);
      expect(firsts.map((h) => h.to)).toEqual([
        "PROVISION",
        expect.any(String),
        "RUN",
        "TEARDOWN",
        "TEARDOWN",
      ]);
      expect(history.filter((h) => h.duplicate)).toHaveLength(5);
    }

    // Per stack: 2 PROVISION tasks + 1 TEARDOWN task, each sent exactly once.
    expect(seen).toHaveLength(STACKS.length * 3);
    const tokens = seen.map((t) => t.token);
    expect(new Set(tokens).size).toBe(tokens.length);
    const outbox = await db.selectFrom("outbox").select(["token", "sent_at"]).execute();
    expect(outbox).toHaveLength(tokens.length);
    expect(outbox.every((r) => r.sent_at !== null)).toBe(true);
    expect(new Set(outbox.map((r) => r.token))).toEqual(new Set(tokens));
  });
});
