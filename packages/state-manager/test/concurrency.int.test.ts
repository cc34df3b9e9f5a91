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

const ROUNDS = 50;
const TASKS = ["t1", "t2", "t3", "t4", "t5"];

describe("five TASK_COMPLETED reports of one stack, delivered at once to five Lambda containers", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let containers: ReturnType<typeof manager>[];

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    containers = TASKS.map(() => manager(database.url, aws.sqs, aws.taskQueueUrl));
  });
  afterAll(async () => {
    await Promise.all((containers ?? []).map((c) => c.close()));
    await aws?.stop();
    await database?.drop();
  });

  it(`counts every report and fires NEXT exactly once (${ROUNDS} rounds)`, async () => {
    const [first] = containers;
    if (!first) throw new Error("no containers");
    let reports = 0;
    let elapsedMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const id = `fanout-${round}`;
      await deliver(first.sm, sqsRecord(event(id, "LAUNCH", { machine: "fanout" })));
      const stack = await mustGetStack(first.db, id);
      expect(stack.state).toBe("BUILD");

      const started = performance.now();
      const responses = await Promise.all(
        TASKS.map((task, i) =>
          containers[i]!.sm.processRecords([sqsRecord(completed(id, task, tokenOf(stack, task)))]),
        ),
      );
      elapsedMs += performance.now() - started;
      reports += TASKS.length;
      for (const r of responses) expect(r.batchItemFailures).toEqual([]);

      const after = await mustGetStack(first.db, id);
      expect(after.state).toBe("READY");
      const history = await getHistory(first.db, id);
      const completions = history.filter((h) => h.event === "TASK_COMPLETED");
      expect(completions).toHaveLength(5);
      expect(completions.every((h) => h.outcome === "applied")).toBe(true);
      expect(completions.map((h) => h.task).sort()).toEqual(TASKS);
      // Exactly one of the five saw the last task satisfied and fired NEXT.
      expect(completions.filter((h) => h.path.includes("READY"))).toHaveLength(1);
      expect(completions.filter((h) => h.to === "READY")).toHaveLength(1);
    }

    const messages = await drainTasks(aws.sqs, aws.taskQueueUrl);
    expect(messages).toHaveLength(ROUNDS * TASKS.length);
    expect(new Set(messages.map((m) => m.token)).size).toBe(ROUNDS * TASKS.length);

    const perSecond = (reports / elapsedMs) * 1000;
    console.log(
      `[concurrency] ${reports} concurrent TASK_COMPLETED in ${elapsedMs.toFixed(0)} ms: ${perSecond.toFixed(0)} events/s (5 containers, pool max 2 each)`,
    );
  });
});
