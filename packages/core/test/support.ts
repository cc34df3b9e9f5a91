import {
  type Deps,
  type EngineEvent,
  type Machine,
  parseSpec,
  type Stack,
  type TransitionResult,
} from "../src/index.js";

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

export function stackOf(result: TransitionResult): Stack {
  const { stack } = applied(result);
  if (!stack) throw new Error("stack was removed");
  return stack;
}
