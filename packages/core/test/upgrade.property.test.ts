import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Deps,
  type Machine,
  type MachineSpec,
  NEXT,
  parseSpec,
  type Stack,
  TASK_STATUSES,
  transition,
  upgradeProblems,
} from "../src/index.js";

// Small pools, so that two random versions share some names and differ in others.
const STATES = ["A", "B", "C", "D"];
const TASKS = ["t1", "t2", "t3", "t4"];
const EVENTS = ["E1", "E2", "E3"];

/**
 * Random valid versions of machine `m` over the pools: some states, some defined tasks, handlers
 * that advance to existing states, NEXT where a state with tasks needs it, one terminal state.
 */
const versionArb: fc.Arbitrary<MachineSpec> = fc
  .record({
    states: fc.subarray(STATES, { minLength: 1 }),
    tasks: fc.subarray(TASKS),
    events: fc.subarray(EVENTS),
    upgrade: fc.constantFrom(undefined, "manual" as const, "on-state-entry" as const),
    seed: fc.array(fc.nat(1000), { minLength: 64, maxLength: 64 }),
  })
  .map(({ states, tasks, events, upgrade, seed }) => {
    let i = 0;
    const pick = (n: number) => seed[i++ % seed.length]! % n;
    const all = ["INIT", ...states];
    const target = () => ({ action: "advance" as const, state: all[1 + pick(all.length - 1)]! });
    const spec: Record<string, Record<string, unknown>> = {};
    all.forEach((name, index) => {
      const terminal = index === all.length - 1 || (name !== "INIT" && pick(4) === 0);
      const own = name === "INIT" ? [] : tasks.filter(() => pick(2) === 0);
      const on: Record<string, unknown> = {};
      for (const event of events) {
        if (pick(3) === 0) continue;
        on[event] = pick(5) === 0 ? [{ action: "no-op" }] : [target()];
      }
      if (!terminal && own.length > 0) on[NEXT] = [target()];
      spec[name] = {
        ...(terminal ? { terminal: true } : {}),
        ...(own.length > 0 ? { tasks: own } : {}),
        on,
      };
    });
    return {
      version: 1 as const,
      ...(upgrade ? { upgrade } : {}),
      events,
      states: spec as MachineSpec["states"],
      tasks: Object.fromEntries(tasks.map((t) => [t, { executor: "lambda" as const, config: { name: t } }])),
    };
  });

function compile(spec: MachineSpec): Machine {
  const parsed = parseSpec(JSON.stringify(spec), { name: "m" });
  if (!parsed.machine) throw new Error(parsed.diagnostics.map((d) => `${d.path}: ${d.message}`).join("\n"));
  return parsed.machine;
}

/** A live stack of `machine`: in one of its states, holding that state's tasks in any status. */
function stackArb(machine: Machine): fc.Arbitrary<Stack> {
  return fc
    .record({
      state: fc.constantFrom(...machine.states.keys()),
      statuses: fc.array(fc.constantFrom(...TASK_STATUSES), {
        minLength: TASKS.length,
        maxLength: TASKS.length,
      }),
      entry: fc.integer({ min: 1, max: 50 }),
    })
    .map(({ state, statuses, entry }) => ({
      id: "s1",
      machine: "m",
      version: machine.version,
      state,
      metadata: {},
      tasks: (machine.states.get(state)?.tasks ?? []).map((name, i) => ({
        name,
        status: statuses[i]!,
        token: `old-${name}`,
        attempt: 1,
      })),
      entry,
      createdAt: "2025-01-01T00:00:00.000Z",
      updatedAt: "2025-01-01T00:00:00.000Z",
    }));
}

/** Two versions of the machine and a stack running the first. */
const caseArb = fc
  .tuple(versionArb, versionArb)
  .map(([a, b]) => [compile(a), compile(b)] as const)
  .chain(([from, to]) => stackArb(from).map((stack) => ({ from, to, stack })));

function counterDeps(): Deps {
  let n = 0;
  return { now: () => new Date(Date.UTC(2025, 0, 2, 0, 0, n++)), newToken: () => `tok-${++n}` };
}

/**
 * The reference model, from docs/spec-reference.md (Versions and upgrades): a stack can move to a
 * version when that version has the stack's state and defines every task the stack holds.
 */
function compatible(stack: Stack, to: Machine): { ok: boolean; missing: string[] } {
  const missing: string[] = [];
  if (!Object.hasOwn(to.spec.states, stack.state)) missing.push(stack.state);
  for (const t of stack.tasks) if (!Object.hasOwn(to.spec.tasks ?? {}, t.name)) missing.push(t.name);
  return { ok: missing.length === 0, missing };
}

const event = (name: string, extra: Record<string, string> = {}) => ({
  name,
  key: `k-${name}-${extra.task ?? ""}`,
  stackId: "s1",
  ...extra,
});

describe("upgrade compatibility", () => {
  it("agrees with the reference model, and an upgraded stack takes every event its new state declares", () => {
    fc.assert(
      fc.property(caseArb, ({ from, to, stack }) => {
        const expected = compatible(stack, to);
        const problems = upgradeProblems(stack, to);
        expect(problems.length === 0, problems.join("; ")).toBe(expected.ok);

        const decision = transition(
          { ok: true, machine: from },
          stack,
          event("UPGRADE_MACHINE"),
          counterDeps(),
          {
            latest: to,
          },
        );
        if (from.version === to.version) {
          expect(decision.outcome).toBe("ignored");
          return;
        }
        if (!expected.ok) {
          expect(decision.outcome).toBe("refused");
          if (decision.outcome !== "refused") return;
          for (const name of expected.missing) expect(decision.reason).toContain(name);
          // What the model calls stranded is: in a state the version lacks, nothing is accepted;
          // a held task it lacks cannot be dispatched again.
          const lost = { ...stack, version: to.version };
          const run = (name: string) =>
            transition({ ok: true, machine: to }, lost, event(name), counterDeps()).outcome;
          if (!to.states.has(stack.state)) for (const e of to.events) expect(run(e)).toBe("refused");
          else if (stack.tasks.some((t) => t.status === "ERROR" && !to.tasks.has(t.name)))
            expect(run("RETRY_FAILED_TASKS")).toBe("refused");
          return;
        }
        expect(decision.outcome).toBe("applied");
        if (decision.outcome !== "applied" || !decision.stack) return;
        const upgraded = decision.stack;
        expect(upgraded).toMatchObject({ version: to.version, state: stack.state, tasks: stack.tasks });
        expect(decision.detail.upgraded).toEqual({ from: from.version, to: to.version });

        const take = (name: string, extra: Record<string, string> = {}) =>
          transition({ ok: true, machine: to }, upgraded, event(name, extra), counterDeps());
        const state = to.states.get(upgraded.state)!;
        for (const name of Object.keys(state.on ?? {})) {
          if (name === NEXT) continue;
          const d = take(name);
          expect(d.outcome, `${name} in ${upgraded.state}: ${d.outcome !== "applied" ? d.reason : ""}`).toBe(
            "applied",
          );
        }
        for (const t of upgraded.tasks) {
          const report = take("TASK_COMPLETED", { task: t.name, token: t.token });
          expect(report.outcome).toBe(t.status === "SATISFIED" ? "ignored" : "applied");
        }
        if (upgraded.tasks.some((t) => t.status === "ERROR"))
          expect(take("RETRY_FAILED_TASKS").outcome).toBe("applied");
        if (upgraded.tasks.some((t) => t.status === "PENDING"))
          expect(take("RETRY_PENDING_TASKS").outcome).toBe("applied");
      }),
      { numRuns: 500 },
    );
  });

  it("finds both compatible and stranded stacks among the random cases", () => {
    const seen = fc
      .sample(caseArb, { numRuns: 400, seed: 16 })
      .map(({ stack, to }) => compatible(stack, to).ok);
    expect(seen.filter(Boolean).length).toBeGreaterThan(40);
    expect(seen.filter((ok) => !ok).length).toBeGreaterThan(40);
  });
});
