import { describe, expect, it } from "vitest";
import { type Decision, type Deps, timersOf } from "../src/index.js";
import { appliedDecision as applied, decide, ev, machineFrom } from "./support.js";

// docs/spec-reference.md, "Timeouts and heartbeats": a task with only a heartbeat times out when
// no report (a heartbeat included) arrives within it; the failure says which limit it broke.

const T0 = Date.parse("2026-03-01T10:00:00Z");
const SPEC = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: BUILD}]
  BUILD:
    tasks: [compile]
    on:
      NEXT: [{action: advance, state: DONE}]
  DONE: {terminal: true}
tasks:
  compile: {executor: lambda, config: {name: compile}, heartbeat: 5m}
`;

describe("a task with only a heartbeat", () => {
  it("times out 5m after dispatch without a report, naming the heartbeat as its limit", () => {
    const machine = machineFrom(SPEC);
    let now = T0;
    const deps: Deps = { now: () => new Date(now), newToken: () => "tk" };
    const stack = applied(decide(machine, null, ev("LAUNCH", { machine: "m" }), deps)).stack!;
    const due = new Date(T0 + 5 * 60_000).toISOString();
    expect(timersOf(machine, stack)).toEqual([{ name: "timeout:compile", dueAt: due }]);
    now = T0 + 5 * 60_000;
    const d = applied(
      decide(
        machine,
        stack,
        ev("TIMER", { key: "tm", timer: { name: "timeout:compile", dueAt: due } }),
        deps,
      ),
    );
    expect(d.stack?.tasks[0]).toMatchObject({
      name: "compile",
      status: "ERROR",
      description: "timed out after 5m (heartbeat 5m): no report arrived in time",
    });
  });

  it("a heartbeat arriving after the timeout is ignored: the attempt is no longer running", () => {
    // docs/spec-reference.md: "heartbeat for task apply, which is not running (ERROR)".
    const machine = machineFrom(SPEC);
    let now = T0;
    const deps: Deps = { now: () => new Date(now), newToken: () => "tk" };
    const stack = applied(decide(machine, null, ev("LAUNCH", { machine: "m" }), deps)).stack!;
    const due = new Date(T0 + 5 * 60_000).toISOString();
    now = T0 + 5 * 60_000;
    const failed = applied(
      decide(
        machine,
        stack,
        ev("TIMER", { key: "tm", timer: { name: "timeout:compile", dueAt: due } }),
        deps,
      ),
    ).stack!;
    expect(
      decide(machine, failed, ev("TASK_HEARTBEAT", { task: "compile", token: "tk" }), deps),
    ).toMatchObject({
      outcome: "ignored",
      reason: "heartbeat for task compile, which is not running (ERROR)",
    });
  });

  it("a heartbeat from an earlier dispatch is stale and moves no deadline", () => {
    const machine = machineFrom(SPEC);
    const deps: Deps = { now: () => new Date(T0), newToken: () => "tk" };
    const stack = applied(decide(machine, null, ev("LAUNCH", { machine: "m" }), deps)).stack!;
    expect(
      decide(machine, stack, ev("TASK_HEARTBEAT", { task: "compile", token: "old" }), deps),
    ).toMatchObject({
      outcome: "ignored",
      reason: "stale report: token old belongs to an earlier dispatch of task compile (current attempt: 1)",
    });
  });
});
