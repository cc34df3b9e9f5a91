import { describe, expect, it } from "vitest";
import { type Decision, initialTransition, parseSpec, transition } from "../src/index.js";
import { applied, ev, fakeDeps, machineFrom, step } from "./support.js";

// Refusals an operator reads in a stack's history (docs/operations.md, "refused"): each names
// what was wrong with the event or with the machine it was decided by.

const SPEC = `version: 1
events: [LAUNCH, DESTROY]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: PROVISION}]
      DESTROY: [{action: advance, state: DONE}]
  PROVISION:
    tasks: [build]
    on:
      NEXT: [{action: advance, state: DONE}]
  DONE: {terminal: true}
tasks:
  build: {executor: lambda, config: {name: fn}}
`;

const reasonOf = (decision: Decision) => (decision.outcome === "applied" ? "(applied)" : decision.reason);

describe("the first event of a stack", () => {
  const machine = machineFrom(SPEC);

  it("is refused when it names no machine that could be found", () => {
    expect(reasonOf(initialTransition(null, ev("LAUNCH", { machine: "m" }), fakeDeps()))).toBe(
      "stack s1 does not exist, and its first event must name a machine",
    );
  });

  it("is refused with the reason its machine could not be loaded", () => {
    const decision = initialTransition(
      { ok: false, reason: "machine m is invalid: specs/m.yml:3:1: error: states: there is no INIT state" },
      ev("LAUNCH", { machine: "m" }),
      fakeDeps(),
    );
    expect(decision.outcome).toBe("refused");
    expect(reasonOf(decision)).toBe(
      "machine m is invalid: specs/m.yml:3:1: error: states: there is no INIT state",
    );
    expect(decision.notifications).toBeUndefined();
  });

  it("is refused when it does not say which stack it is for", () => {
    const { stackId: _, ...event } = ev("LAUNCH", { machine: "m" });
    expect(reasonOf(initialTransition({ ok: true, machine }, event, fakeDeps()))).toBe(
      "the event does not say which stack it is for (stackId)",
    );
  });

  it("a report without a stack id is stale, for a stack named (unknown)", () => {
    const { stackId: _, ...event } = ev("TASK_COMPLETED", { task: "build", token: "t1" });
    const decision = initialTransition({ ok: true, machine }, event, fakeDeps());
    expect(decision.outcome).toBe("ignored");
    expect(reasonOf(decision)).toBe(
      "stale report: stack (unknown) does not exist (it may have been removed)",
    );
  });

  it("is refused when its metadata alone is over the key limit of 100", () => {
    const metadata = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]));
    expect(
      reasonOf(
        initialTransition({ ok: true, machine }, ev("LAUNCH", { machine: "m", metadata }), fakeDeps()),
      ),
    ).toBe(
      "the stack's metadata would have 101 keys, over the limit of 100; remove keys by sending them with null",
    );
    const fits = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    expect(
      initialTransition({ ok: true, machine }, ev("LAUNCH", { machine: "m", metadata: fits }), fakeDeps())
        .outcome,
    ).toBe("applied");
  });
});

describe("an event for an existing stack", () => {
  const machine = machineFrom(SPEC);
  const deps = fakeDeps();
  const provisioning = applied(step(machine, null, ev("LAUNCH", { machine: "m" }), deps)).stack!;

  it("is refused with the reason the stack's machine could not be loaded, without notifications", () => {
    const decision = transition(
      { ok: false, reason: "machine m version abc is not stored" },
      provisioning,
      ev("DESTROY"),
      deps,
    );
    expect(decision.outcome).toBe("refused");
    expect(reasonOf(decision)).toBe("machine m version abc is not stored");
    expect(decision.notifications).toBeUndefined();
  });

  it("is refused when the machine given is not the one the stack runs", () => {
    const other = machineFrom(SPEC, "other");
    expect(reasonOf(transition({ ok: true, machine: other }, provisioning, ev("DESTROY"), deps))).toBe(
      "stack s1 runs machine m, not other",
    );
  });

  it("a misspelt event is refused with the machine's events and the closest one", () => {
    expect(step(machine, provisioning, ev("DESTORY"), deps)).toMatchObject({
      outcome: "refused",
      reason: "unknown event DESTORY for machine m (events: LAUNCH, DESTROY); did you mean DESTROY?",
    });
  });

  it("a state whose only handler is NEXT handles no events an operator can send", () => {
    // docs/operations.md shows this very refusal for a provisioning state.
    expect(step(machine, provisioning, ev("DESTROY"), deps)).toMatchObject({
      outcome: "refused",
      reason: "state PROVISION does not handle DESTROY (it handles no events)",
    });
  });

  it("a machine that declares no events says so", () => {
    const bare = machineFrom(
      "version: 1\nevents: []\nstates:\n  INIT: {}\n  DONE: {terminal: true}\n",
      "bare",
    );
    const stack = { ...provisioning, machine: "bare", state: "INIT", tasks: [] };
    expect(step(bare, stack, ev("LAUNCH"), deps)).toMatchObject({
      outcome: "refused",
      reason: "unknown event LAUNCH for machine bare (events: none)",
    });
  });

  it("a state without handlers handles no events, and the spec warns it can never be left", () => {
    const text =
      "version: 1\nevents: [LAUNCH, DESTROY]\nstates:\n  INIT:\n    on:\n      LAUNCH: [{action: advance, state: HOLD}]\n      DESTROY: [{action: advance, state: DONE}]\n  HOLD: {}\n  DONE: {terminal: true}\n";
    expect(
      parseSpec(text, { name: "hold" }).diagnostics.map((d) => `${d.severity} ${d.path}: ${d.message}`),
    ).toEqual([
      "warning states.HOLD: HOLD can never be left: no handler advances to another state, so a stack that enters it stays there",
    ]);
    const hold = machineFrom(text, "hold");
    const stack = applied(step(hold, null, ev("LAUNCH", { machine: "hold" }), deps)).stack!;
    expect(step(hold, stack, ev("DESTROY"), deps)).toMatchObject({
      outcome: "refused",
      reason: "state HOLD does not handle DESTROY (it handles no events)",
    });
  });
});
