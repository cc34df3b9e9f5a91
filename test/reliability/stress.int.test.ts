import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { MODE, SEED, SIZES, TEST_TIMEOUT_MS } from "./support/sizes.js";
import { runStress, summarize } from "./support/stress.js";

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
    `${SIZES.stacks} stacks, 8 workers, duplicates and reordering: the database equals the pure replay`,
    async () => {
      const result = await runStress({
        label: `stress (${MODE})`,
        stacks: SIZES.stacks,
        url: database.url,
        aws,
        seed: SEED,
      });
      console.log(`\n${JSON.stringify(summarize(result), null, 2)}`);
      if (result.model.mismatchSamples.length > 0) console.log(result.model.mismatchSamples.join("\n"));

      expect(result.model.mismatchSamples).toEqual([]);
      expect(result.model.mismatches).toBe(0);
      expect(result.model.lostEvents).toBe(0);
      expect(result.model.tasksLost).toBe(0);
      expect(result.model.tasksDoubled).toBe(0);
      expect(result.model.unsent).toBe(0);
      expect(result.stuckOutbox).toBe(0);
      expect(result.stuckPending).toBe(0);
      expect(result.satisfier.invalid).toBe(0);
      expect(result.satisfier.pollErrors).toBe(0);
      // Without faults nothing is transient: every record succeeds the first time it is handled.
      expect(result.queue.returnedAsFailed).toBe(0);
      // The run really was hostile and really exercised the machines.
      expect(result.queue.duplicateDeliveries / result.queue.deliveries).toBeGreaterThanOrEqual(0.2);
      expect(result.model.duplicateRows).toBeGreaterThan(0);
      expect(result.model.staleReports).toBeGreaterThan(0);
      expect(result.model.refused).toBeGreaterThan(0);
      expect(result.model.dispatchTokens).toBeGreaterThan(SIZES.stacks);
      expect(result.model.stacks).toBe(SIZES.stacks);
      expect(result.model.liveStacks).toBeLessThan(SIZES.stacks);
    },
    TEST_TIMEOUT_MS,
  );
});
