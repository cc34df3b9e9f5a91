import {
  type Decision,
  type Deps,
  type Dispatch,
  type EngineEvent,
  initialTransition,
  type Machine,
  parseSpec,
  type Stack,
  transition,
} from "../src/index.js";

/** A decision as the round-1 tests read it: the state outcome, without its history detail and messages. */
export type TransitionResult =
  | {
      outcome: "applied";
      stack: Stack | null;
      from: string | null;
      to: string;
      path: string[];
      dispatch: Dispatch[];
      removed: boolean;
      note?: string;
    }
  | { outcome: "refused" | "ignored"; reason: string; from: string | null };

/** The state outcome of a decision (see TransitionResult). */
export function outcomeOf(decision: Decision): TransitionResult {
  if (decision.outcome !== "applied") {
    return { outcome: decision.outcome, reason: decision.reason, from: decision.from };
  }
  const { detail: _d, tasks: _t, ...rest } = decision;
  return rest;
}

/** Decides `event` for `stack` (null: a new stack) by `machine`, through the matching core entry point. */
export function decide(machine: Machine, stack: Stack | null, event: EngineEvent, deps: Deps): Decision {
  return stack === null
    ? initialTransition({ ok: true, machine }, event, deps)
    : transition({ ok: true, machine }, stack, event, deps);
}

/** `decide`, read as a TransitionResult. */
export function step(
  machine: Machine,
  stack: Stack | null,
  event: EngineEvent,
  deps: Deps,
): TransitionResult {
  return outcomeOf(decide(machine, stack, event, deps));
}

/** Compiles a spec or fails the test with its diagnostics. */
export function machineFrom(text: string, name = "m"): Machine {
  const result = parseSpec(text, { name });
  if (!result.machine) throw new Error(result.diagnostics.map((d) => `${d.path}: ${d.message}`).join("\n"));
  return result.machine;
}

/** Deterministic deps: tokens t1, t2, … and a clock that ticks one second per call. */
export function fakeDeps(start = Date.parse("2025-01-01T00:00:00Z")): Deps & { tokens: string[] } {
  let n = 0;
  let clock = start;
  const tokens: string[] = [];
  return {
    tokens,
    now: () => {
      clock += 1000;
      return new Date(clock);
    },
    newToken: () => {
      const token = `t${++n}`;
      tokens.push(token);
      return token;
    },
  };
}

/** An event with a key derived from its name; extra fields as given. */
export function ev(name: string, extra: Partial<EngineEvent> = {}): EngineEvent {
  return { name, key: `k-${name}`, stackId: "s1", ...extra };
}

/** The stack of an applied result (fails the test otherwise). */
export function applied(result: TransitionResult): Extract<TransitionResult, { outcome: "applied" }> {
  if (result.outcome !== "applied")
    throw new Error(`expected applied, got ${result.outcome}: ${result.reason}`);
  return result;
}

/** An applied decision (fails the test otherwise). */
export function appliedDecision(d: Decision): Extract<Decision, { outcome: "applied" }> {
  if (d.outcome !== "applied") throw new Error(`expected applied, got ${d.outcome}: ${d.reason}`);
  return d;
}

export function stackOf(result: TransitionResult): Stack {
  const { stack } = applied(result);
  if (!stack) throw new Error("stack was removed");
  return stack;
}
