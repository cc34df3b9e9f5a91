/**
 * The size switch: CI runs the reduced suite (part of `npm test`, well under two minutes on two
 * cores); `npm run test:reliability` sets STACKSEAM_RELIABILITY=full for the sizes in docs/reliability.md.
 */
export const FULL = process.env.STACKSEAM_RELIABILITY === "full";

/** The seed of every random choice the harness makes; print it, and set it to replay a run's choices. */
export const SEED = Number(process.env.STACKSEAM_RELIABILITY_SEED ?? 20_240_601);

/** How big each part of a run is. */
export interface SizeSet {
  stacks: number;
  faultStacks: number;
  /** Stacks of each of the mutation test's two runs (the seeded bug shows in any multi-task state). */
  mutationStacks: number;
  fuzzBodies: number;
  fuzzSpecs: number;
  hostileTasks: number;
}

/** The sizes of each mode (both are printed in docs/reliability.md). */
export const FULL_SIZES: SizeSet = {
  stacks: 1000,
  faultStacks: 400,
  mutationStacks: 60,
  fuzzBodies: 10_000,
  fuzzSpecs: 2_000,
  hostileTasks: 400,
};
export const REDUCED_SIZES: SizeSet = {
  stacks: 100,
  faultStacks: 60,
  mutationStacks: 24,
  fuzzBodies: 1_000,
  fuzzSpecs: 300,
  hostileTasks: 20,
};

export const SIZES = FULL ? FULL_SIZES : REDUCED_SIZES;

/**
 * Generous per-test timeouts: the drain loop ends on quiescence, never on a clock. The full run's
 * is a safety net only: on a shared, loaded machine its Terraform-spawning parts take many minutes.
 */
export const TEST_TIMEOUT_MS = FULL ? 90 * 60_000 : 100_000;

export const MODE = FULL ? "full" : "reduced";
