import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  type Deps,
  type EngineEvent,
  type Machine,
  type MachineSpec,
  parseSpec,
  type Stack,
} from "../src/index.js";
import { decide as transition } from "./support.js";

const EVENTS = ["E1", "E2", "E3", "E4"];
const TASKS = ["t1", "t2", "t3"];

/** Random machines that satisfy every rule of docs/spec-reference.md (INIT has no tasks, the last state is terminal). */
const specArb: fc.Arbitrary<MachineSpec> = fc.integer({ min: 2, max: 6 }).chain((count) => {
  const names = ["INIT", ...Array.from({ length: count - 1 }, (_, i) => `S${i + 1}`)];
  const action = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(...names).map((state) => ({ action: "advance" as const, state })),
    },
    { weight: 1, arbitrary: fc.constant({ action: "no-op" as const }) },
  );
  const actions = fc.array(action, { minLength: 1, maxLength: 3 });
  const state = (name: string, index: number) =>
    fc
      .record({
        terminal: index === names.length - 1 ? fc.constant(true) : fc.boolean(),
        tasks: name === "INIT" ? fc.constant([]) : fc.subarray(TASKS),
        handled: fc.subarray(EVENTS),
        handlers: fc.array(actions, { minLength: EVENTS.length, maxLength: EVENTS.length }),
        next: actions,
      })
      .map(({ terminal, tasks, handled, handlers, next }) => {
        const on: Record<string, unknown> = {};
        handled.forEach((event) => {
          on[event] = handlers[EVENTS.indexOf(event)];
        });
        if (!terminal && tasks.length > 0) on.NEXT = next;
        return { ...(terminal ? { terminal } : {}), ...(tasks.length > 0 ? { tasks } : {}), on };
      });
  return fc.tuple(...names.map(state)).map((states) => ({
    version: 1 as const,
    events: EVENTS,
    states: Object.fromEntries(names.map((name, i) => [name, states[i]])) as MachineSpec["states"],
    tasks: Object.fromEntries(TASKS.map((t) => [t, { executor: "lambda" as const, config: { name: t } }])),
  }));
});

type Command =
  | { kind: "user"; event: number }
  | { kind: "report"; name: "TASK_COMPLETED" | "TASK_ERROR"; pick: number; stale: boolean }
  | { kind: "retry"; name: "RETRY_FAILED_TASKS" | "RETRY_PENDING_TASKS" }
  | { kind: "next" };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("user" as const), event: fc.nat(EVENTS.length) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("report" as const),
      name: fc.constantFrom("TASK_COMPLETED" as const, "TASK_COMPLETED" as const, "TASK_ERROR" as const),
      pick: fc.nat(10),
      stale: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("retry" as const),
      name: fc.constantFrom("RETRY_FAILED_TASKS" as const, "RETRY_PENDING_TASKS" as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "next" as const }) },
);

/** Deps whose tokens continue from `from`, so a run can be replayed with identical inputs. */
function counterDeps(from: number): Deps & { used: () => number } {
  let n = from;
  return {
    now: () => new Date(Date.UTC(2025, 0, 1, 0, 0, n)),
    newToken: () => `tok-${++n}`,
    used: () => n,
  };
}

function eventFor(
  command: Command,
  stack: Stack | null,
  oldTokens: readonly string[],
  i: number,
): EngineEvent {
  const base = { key: `k${i}`, stackId: "s1", machine: "m" };
  switch (command.kind) {
    case "user":
      return { ...base, name: EVENTS[command.event] ?? "UNDECLARED" };
    case "next":
      return { ...base, name: "NEXT" };
    case "retry":
      return { ...base, name: command.name };
    case "report": {
      const tasks = stack?.tasks ?? [];
      const task = tasks[command.pick % Math.max(1, tasks.length)];
      const name = task?.name ?? TASKS[command.pick % TASKS.length]!;
      const stale = oldTokens.filter((t) => t !== task?.token);
      const token =
        command.stale || !task
          ? (stale[command.pick % Math.max(1, stale.length)] ?? "never-issued")
          : task.token;
      return { key: `k${i}`, stackId: "s1", name: command.name, task: name, token, description: "failed" };
    }
  }
}

function checkStack(machine: Machine, stack: Stack): void {
  const state = machine.states.get(stack.state);
  expect(state, `state ${stack.state} belongs to the machine`).toBeDefined();
  expect(stack.machine).toBe("m");
  expect(stack.tasks.map((t) => t.name)).toEqual(state!.tasks ?? []);
  expect(new Set(stack.tasks.map((t) => t.token)).size).toBe(stack.tasks.length);
  if (state!.terminal !== true && (state!.tasks ?? []).length > 0) {
    // NEXT fires as soon as all are satisfied, unless the NEXT handler only no-ops.
    const all = stack.tasks.every((t) => t.status === "SATISFIED");
    if (all) expect(state!.on!.NEXT!.every((a) => a.action === "no-op")).toBe(true);
  }
}

describe("transition properties", () => {
  it("keeps every invariant over random machines and event sequences", () => {
    fc.assert(
      fc.property(specArb, fc.array(commandArb, { maxLength: 40 }), (spec, commands) => {
        const result = parseSpec(stringify(spec), { name: "m" });
        expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
        const machine = result.machine!;
        let stack: Stack | null = null;
        let counter = 0;
        const issued: string[] = [];

        commands.forEach((command, i) => {
          const event = eventFor(command, stack, issued, i);
          const before = structuredClone(stack);
          const deps = counterDeps(counter);
          const outcome = transition(machine, stack, event, deps);

          // Deterministic given deps, and the input is never mutated.
          expect(transition(machine, stack, event, counterDeps(counter))).toEqual(outcome);
          expect(stack).toEqual(before);

          const current = stack?.tasks.find((t) => t.name === event.task);
          const isReport = event.name === "TASK_COMPLETED" || event.name === "TASK_ERROR";
          if (isReport && (!current || current.token !== event.token)) {
            expect(outcome.outcome, "a stale report changes nothing").toBe("ignored");
          }
          if (event.name === "NEXT") expect(outcome.outcome).toBe("refused");
          if (!isReport && !event.name.startsWith("RETRY") && !machine.events.has(event.name)) {
            expect(outcome.outcome).toBe("refused");
          }

          if (outcome.outcome !== "applied") {
            expect(deps.used(), "no token is spent on an event that changes nothing").toBe(counter);
            return;
          }
          counter = deps.used();
          expect(new Set(outcome.dispatch.map((d) => d.token)).size).toBe(outcome.dispatch.length);
          for (const d of outcome.dispatch) expect(issued).not.toContain(d.token);
          issued.push(...outcome.dispatch.map((d) => d.token));

          const fired = outcome.path.length > 0 || outcome.removed;
          if (event.name === "TASK_COMPLETED" && fired) {
            // NEXT (or removal) only once every task of the state is satisfied.
            const others = before!.tasks.filter((t) => t.name !== event.task);
            expect(others.every((t) => t.status === "SATISFIED")).toBe(true);
          }
          if (outcome.removed) {
            expect(outcome.stack).toBeNull();
            const last = outcome.path.at(-1);
            const enteredEmptyTerminal =
              last !== undefined &&
              machine.states.get(last)!.terminal === true &&
              (machine.states.get(last)!.tasks ?? []).length === 0;
            const satisfiedTerminal =
              event.name === "TASK_COMPLETED" &&
              outcome.path.length === 0 &&
              machine.states.get(before!.state)!.terminal === true;
            expect(enteredEmptyTerminal || satisfiedTerminal).toBe(true);
          } else {
            expect(outcome.stack).not.toBeNull();
            checkStack(machine, outcome.stack!);
            expect(outcome.stack!.entry).toBe((before?.entry ?? 0) + outcome.path.length);
            expect(outcome.to).toBe(outcome.stack!.state);
            const pendingTokens = outcome
              .stack!.tasks.filter((t) => t.status === "PENDING")
              .map((t) => t.token);
            for (const d of outcome.dispatch) expect(pendingTokens).toContain(d.token);
          }
          stack = outcome.stack;
        });
      }),
      { numRuns: 400 },
    );
  }, 60_000);
});
