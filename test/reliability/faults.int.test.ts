import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type FaultCounts, type FaultPlan, faultSchedule } from "./support/faults.js";
import { partStarted, recordFigures } from "./support/figures.js";
import { type OwnPostgres, startOwnPostgres } from "./support/own-postgres.js";
import { Rng } from "./support/random.js";
import { ASSERT_EVERY_STACK_SETTLES, WEDGE_CAUSES } from "./support/settle.js";
import { FULL, MODE, SEED, SIZES, TEST_TIMEOUT_MS } from "./support/sizes.js";
import { runStress, stressFigures, summarize, wedgesByCause } from "./support/stress.js";

const PLAN: FaultPlan = FULL
  ? {
      sessionKillEvery: 25,
      faultsUntil: 4000,
      sqsOutages: [
        [200, 300],
        [1500, 1560],
      ],
      workerKills: [150, 700, 1300, 2500],
      restartAt: 1000,
    }
  : {
      sessionKillEvery: 15,
      faultsUntil: 600,
      sqsOutages: [
        [60, 100],
        [300, 330],
      ],
      workerKills: [40, 200, 450],
    };

describe(`reliability: stress under faults (${MODE})`, () => {
  let shared: TestDatabase | undefined;
  let own: OwnPostgres | undefined;
  let url: string;
  let aws: TestAws;

  beforeAll(async () => {
    if (FULL) {
      try {
        own = await startOwnPostgres();
      } catch (err) {
        console.log(
          `could not start an embedded Postgres of our own (${String(err)}); the restart is skipped`,
        );
      }
    }
    if (own) url = own.url;
    else {
      shared = await createTestDatabase();
      url = shared.url;
      console.log(
        "note: the Postgres server is shared (DATABASE_URL or the suite's), so it is not restarted",
      );
    }
    aws = await startTestAws();
  });
  afterAll(async () => {
    await aws?.stop();
    await shared?.drop();
    await own?.stop();
  });

  it(
    `${SIZES.faultStacks} stacks with killed sessions, an SQS outage and killed workers${FULL ? " and a Postgres restart" : ""}: still no mismatch, no lost event`,
    async () => {
      partStarted("faults");
      let counts: FaultCounts | undefined;
      let settled = async () => {};
      const plan: FaultPlan = own ? { ...PLAN, restart: () => own!.restart() } : { ...PLAN };
      if (!own) delete plan.restartAt;
      const result = await runStress({
        label: `faults (${MODE})`,
        stacks: SIZES.faultStacks,
        url,
        aws,
        seed: SEED + 1,
        // The Task Satisfier crashes on 10 % of deliveries, and on every delivery of 1 % of the
        // dispatches (killed at its timeout each time): those end in the task DLQ.
        satisfierFaults: { crash: 0.1, poison: 0.01 },
        faults: (admin, queue) => {
          const schedule = faultSchedule(plan, admin, new Rng(SEED + 2), queue);
          counts = schedule.counts;
          settled = schedule.settled;
          return schedule.faults;
        },
      });
      await settled();
      console.log(`\n${JSON.stringify({ ...summarize(result), ...counts }, null, 2)}`);
      console.log(
        JSON.stringify({ neverSettle: wedgesByCause(result), endings: result.reference.endings }, null, 2),
      );
      if (result.reference.mismatchSamples.length > 0)
        console.log(result.reference.mismatchSamples.join("\n"));
      if (result.model.mismatchSamples.length > 0) console.log(result.model.mismatchSamples.join("\n"));

      expect(result.reference.mismatchSamples).toEqual([]);
      expect(result.reference.mismatches).toBe(0);
      expect(result.model.mismatches).toBe(0);
      expect(result.reference.lostEvents).toBe(0);
      expect(result.reference.eventsTwice).toBe(0);
      expect(result.reference.tasksLost).toBe(0);
      expect(result.reference.unsent).toBe(0);
      expect(result.satisfier.invalid).toBe(0);
      // Stacks that can never settle: always computed and reported. The tick re-sends what an
      // outage left unsent, so that cause must never remain, and every PENDING wedge must have a
      // known cause. With ASSERT_EVERY_STACK_SETTLES there is none at all: the stress machines'
      // tasks have a timeout, so a dead-lettered task message or report ends in a timeout (retried,
      // or ERROR for a person) — and the dispatches the Task Satisfier crashes on every time did.
      const causes = wedgesByCause(result);
      expect(causes[WEDGE_CAUSES[0]]).toBeUndefined();
      expect(causes[WEDGE_CAUSES[3]]).toBeUndefined();
      if (ASSERT_EVERY_STACK_SETTLES) {
        expect(Object.fromEntries(result.settle.neverSettle)).toEqual({});
        if (result.settle.deadLetteredTasks.size > 0) expect(result.reference.timeouts).toBeGreaterThan(0);
      } else if (result.satisfier.poisoned > 0) expect(result.settle.neverSettle.size).toBeGreaterThan(0);
      // A send SQS accepted whose "sent" mark died with its session is sent again: at-least-once,
      // harmless (same token), and only ever caused by an injected fault.
      const injected = (counts?.sessionsTerminated ?? 0) + result.workers.kills + (counts?.restarts ?? 0);
      expect(result.reference.tasksDoubled).toBeLessThanOrEqual(injected);
      // The faults really struck.
      expect(counts?.sessionsTerminated).toBeGreaterThan(0);
      expect(counts?.outageBatches).toBeGreaterThan(0);
      expect(result.workers.kills).toBeGreaterThan(0);
      expect(result.queue.abandoned).toBeGreaterThan(0);
      expect(result.queue.returnedAsFailed).toBeGreaterThan(0);
      if (own) {
        expect(counts?.restartError).toBeUndefined();
        expect(counts?.restarts).toBe(1);
      }
      await recordFigures("faults", {
        ...stressFigures(result),
        faults: counts,
        plan: { ...PLAN, restartAt: own ? PLAN.restartAt : undefined },
        satisfierFaults: { crash: 0.1, poison: 0.01 },
        ownServer: own !== undefined,
        injected,
      });
    },
    TEST_TIMEOUT_MS,
  );
});
