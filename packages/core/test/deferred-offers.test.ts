import { describe, expect, it } from "vitest";
import type { Decision } from "../src/index.js";
import { appliedDecision as applied, decide, ev, fakeDeps, machineFrom } from "./support.js";

// docs/spec-reference.md, deferral: kept events are offered to the state the stack enters; one it
// does not handle leaves the queue refused, and one whose metadata no longer fits is refused too,
// each with a history row of its own keyed <key>#deferred.

const SPEC = `version: 1
events: [LAUNCH, UPDATE, PING, TOUCH, DESTROY]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: PROVISION}]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{action: advance, state: RUN}]
      UPDATE: [{action: defer}]
      PING: [{action: defer}]
      TOUCH: [{action: no-op}]
  RUN:
    on:
      UPDATE: [{action: no-op}]
      DESTROY: [{action: advance, state: GONE}]
  GONE: {terminal: true}
tasks:
  apply: {executor: lambda, config: {name: apply}}
`;
const machine = machineFrom(SPEC);

const keys = (prefix: string, n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i]));

describe("kept events offered to the entered state", () => {
  it("one the entered state does not handle leaves the queue, refused, with when it was kept", () => {
    const deps = fakeDeps();
    const s0 = applied(decide(machine, null, ev("LAUNCH", { machine: "m" }), deps)).stack!;
    const kept = applied(decide(machine, s0, ev("PING", { key: "p1" }), deps));
    const at = kept.stack!.deferred![0]!.at;
    const d = applied(
      decide(machine, kept.stack!, ev("TASK_COMPLETED", { task: "apply", token: s0.tasks[0]!.token }), deps),
    );
    expect(d.stack?.state).toBe("RUN");
    expect(d.stack?.deferred).toBeUndefined();
    expect(d.also).toEqual([
      {
        event: "PING",
        key: "p1#deferred",
        from: "RUN",
        to: "RUN",
        outcome: "refused",
        reason: `deferred PING (kept since ${at}) is not handled in RUN, which the stack entered`,
        detail: { deferredAt: at },
      },
    ]);
  });

  it("one whose metadata would take the stack over 100 keys is refused when offered", () => {
    const deps = fakeDeps();
    const s0 = applied(decide(machine, null, ev("LAUNCH", { machine: "m", metadata: keys("a", 40) }), deps))
      .stack!;
    // Kept while the stack has 40 keys: 90 would fit.
    const s1 = applied(decide(machine, s0, ev("UPDATE", { key: "u1", metadata: keys("u", 50) }), deps))
      .stack!;
    // Meanwhile a handled event brings the stack to 60 keys: 110 no longer fit.
    const s2 = applied(decide(machine, s1, ev("TOUCH", { metadata: keys("t", 20) }), deps)).stack!;
    expect(Object.keys(s2.metadata)).toHaveLength(60);
    const d = applied(
      decide(machine, s2, ev("TASK_COMPLETED", { task: "apply", token: s0.tasks[0]!.token }), deps),
    );
    expect(d.stack?.state).toBe("RUN");
    expect(Object.keys(d.stack!.metadata)).toHaveLength(60);
    expect(d.also).toEqual([
      expect.objectContaining({
        event: "UPDATE",
        key: "u1#deferred",
        outcome: "refused",
        reason:
          "deferred UPDATE: the stack's metadata would have 110 keys, over the limit of 100; remove keys by sending them with null",
      }),
    ]);
  });
});
