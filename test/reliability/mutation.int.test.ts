import type * as Core from "@stackseam/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { recordFigures } from "./support/figures.js";
import { MODE, SEED, SIZES, TEST_TIMEOUT_MS } from "./support/sizes.js";
import { runStress, type StressResult } from "./support/stress.js";

// Proof that the suite sees a wrong decision: the State Manager runs with a seeded bug in core's
// `transition` — NEXT fires one task early (when all but one of a state's tasks are satisfied) —
// and the stress run must report mismatches against the independent reference model. Core's
// sources are not touched: the module is wrapped for this file only, and the switch below turns
// the bug on for the second run. History replayed through core's own (equally mutated)
// `transition` cannot see it, which is why the reference model exists.
const mutant = vi.hoisted(() => ({ on: false, struck: 0 }));

vi.mock("@stackseam/core", async (importOriginal) => {
  const core = await importOriginal<typeof Core>();
  /** The stack as the bug sees it: the last unsatisfied task other than the reported one counts as done. */
  const earlyNext = (stack: Core.Stack, event: Core.EngineEvent): Core.Stack => {
    if (event.name !== "TASK_COMPLETED") return stack;
    const reported = stack.tasks.find((t) => t.name === event.task && t.token === event.token);
    if (!reported || reported.status === "SATISFIED") return stack;
    const others = stack.tasks.filter((t) => t !== reported && t.status !== "SATISFIED");
    if (others.length !== 1) return stack;
    mutant.struck += 1;
    return { ...stack, tasks: stack.tasks.map((t) => (t === others[0] ? { ...t, status: "SATISFIED" } : t)) };
  };
  const transition: typeof core.transition = (machine, stack, event, deps, opts) =>
    core.transition(machine, mutant.on ? earlyNext(stack, event) : stack, event, deps, opts);
  return { ...core, transition };
});

const STACKS = SIZES.mutationStacks;

describe(`reliability: mutation test of the reference model (${MODE})`, () => {
  let aws: TestAws;
  const databases: TestDatabase[] = [];
  let clean: StressResult | undefined;
  let mutated: StressResult | undefined;

  const run = async (label: string): Promise<StressResult> => {
    const database = await createTestDatabase();
    databases.push(database);
    return runStress({ label, stacks: STACKS, url: database.url, aws, seed: SEED + 7 });
  };

  beforeAll(async () => {
    aws = await startTestAws();
  });
  afterAll(async () => {
    await aws?.stop();
    for (const d of databases) await d.drop();
    if (clean && mutated) {
      await recordFigures("mutation", {
        stacks: STACKS,
        clean: { reference: clean.reference.mismatches, replay: clean.model.mismatches },
        mutated: {
          reference: mutated.reference.mismatches,
          replay: mutated.model.mismatches,
          struck: mutant.struck,
          sample: mutated.reference.mismatchSamples[0] ?? "",
        },
      });
    }
  });

  it(
    "today's code: 0 mismatches against the independent model",
    async () => {
      mutant.on = false;
      clean = await run("mutation test: clean");
      expect(mutant.struck).toBe(0);
      expect(clean.reference.mismatchSamples).toEqual([]);
      expect(clean.model.mismatches).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "seeded bug (NEXT fires one task early): the independent model reports mismatches; core's replay does not",
    async () => {
      mutant.on = true;
      try {
        mutated = await run("mutation test: NEXT one task early");
      } finally {
        mutant.on = false;
      }
      console.log(
        JSON.stringify({
          mutation: "NEXT fires one task early",
          struck: mutant.struck,
          referenceMismatches: mutated.reference.mismatches,
          replayMismatches: mutated.model.mismatches,
          sample: mutated.reference.mismatchSamples.slice(0, 3),
        }),
      );
      // The bug really struck (several stress machines have states with more than one task)…
      expect(mutant.struck).toBeGreaterThan(0);
      // …and the independent model sees it, …
      expect(mutated.reference.mismatches).toBeGreaterThan(0);
      // …while replaying history through the same (mutated) transition finds nothing wrong.
      expect(mutated.model.mismatches).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );
});
