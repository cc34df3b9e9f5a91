import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { partStarted, recordFigures } from "./support/figures.js";
import { MODE, SEED, SIZES, TEST_TIMEOUT_MS } from "./support/sizes.js";
import { runStress, stressFigures, summarize } from "./support/stress.js";

describe(`reliability: model-checked stress (${MODE})`, () => {
  let database: TestDatabase;
  let aws: TestAws;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
  });
  afterAll(async () => {
    await aws?.stop();
    await database?.drop();
  });

  it(
    `${SIZES.stacks} stacks, 8 workers, duplicates and reordering: the database equals the independent reference model`,
    async () => {
      partStarted("stress");
      const result = await runStress({
        label: `stress (${MODE})`,
        stacks: SIZES.stacks,
        url: database.url,
        aws,
        seed: SEED,
      });
      console.log(`\n${JSON.stringify(summarize(result), null, 2)}`);
      console.log(
        JSON.stringify({ endings: result.reference.endings, missing: result.coverage.missing }, null, 2),
      );
      if (result.reference.mismatchSamples.length > 0)
        console.log(result.reference.mismatchSamples.join("\n"));
      if (result.model.mismatchSamples.length > 0) console.log(result.model.mismatchSamples.join("\n"));

      // The independent reference model (the headline) and core's own replay (a second check).
      expect(result.reference.mismatchSamples).toEqual([]);
      expect(result.reference.mismatches).toBe(0);
      expect(result.model.mismatches).toBe(0);
      expect(result.reference.lostEvents).toBe(0);
      expect(result.reference.eventsTwice).toBe(0);
      expect(result.reference.tasksLost).toBe(0);
      expect(result.reference.tasksDoubled).toBe(0);
      expect(result.reference.unsent).toBe(0);
      // Without faults nothing is transient: every record succeeds the first time it is handled,
      // so the DLQ only ever receives copies of processed events, and every stack settles.
      expect(result.queue.returnedAsFailed).toBe(0);
      expect(result.settle.unprocessedDeadLetters).toBe(0);
      expect(Object.fromEntries(result.settle.neverSettle)).toEqual({});
      expect(result.stuckOutbox).toBe(0);
      expect(result.stuckPending).toBe(0);
      expect(result.satisfier.invalid).toBe(0);
      expect(result.satisfier.pollErrors).toBe(0);
      // The run really was hostile and really exercised the machines.
      expect(result.queue.duplicateDeliveries / result.queue.deliveries).toBeGreaterThanOrEqual(0.2);
      expect(result.reference.duplicateRows).toBeGreaterThan(0);
      expect(result.reference.staleReports).toBeGreaterThan(0);
      expect(result.reference.refused).toBeGreaterThan(0);
      expect(result.reference.dispatches).toBeGreaterThan(SIZES.stacks);
      expect(result.reference.stacks).toBe(SIZES.stacks);
      expect(result.reference.liveStacks).toBeLessThan(SIZES.stacks);
      await recordFigures("stress", stressFigures(result));
    },
    TEST_TIMEOUT_MS,
  );
});
