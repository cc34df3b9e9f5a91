import { describe, expect, it } from "vitest";
import { type Decision, type Deps, timersOf } from "../src/index.js";
import { appliedDecision as applied, decide, ev, machineFrom } from "./support.js";

// docs/spec-reference.md, "Timers": a stack's due times are derived from it and listed by name,
// whatever order its tasks are in.

const T0 = Date.parse("2026-04-01T09:00:00Z");
const SPEC = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: BUILD}]
  BUILD:
    tasks: [compile, assets]
    on:
      NEXT: [{action: advance, state: DONE}]
  DONE: {terminal: true}
tasks:
  compile: {executor: lambda, config: {name: compile}, timeout: 1h}
  assets: {executor: lambda, config: {name: assets}, retry: {attempts: 3, delay: 10s}}
`;

describe("a stack's timers", () => {
  it("are listed by name: the second task's retry before the first task's timeout", () => {
    const machine = machineFrom(SPEC);
    let now = T0;
    let n = 0;
    const deps: Deps = { now: () => new Date(now), newToken: () => `t${++n}` };
    const stack = applied(decide(machine, null, ev("LAUNCH", { machine: "m" }), deps)).stack!;
    const assets = stack.tasks.find((t) => t.name === "assets")!;
    now = T0 + 60_000;
    const failed = applied(
      decide(
        machine,
        stack,
        ev("TASK_ERROR", { task: "assets", token: assets.token, description: "boom" }),
        deps,
      ),
    ).stack!;
    expect(failed.tasks.map((t) => [t.name, t.status])).toEqual([
      ["compile", "PENDING"],
      ["assets", "ERROR"],
    ]);
    expect(timersOf(machine, failed)).toEqual([
      { name: "retry:assets", dueAt: new Date(T0 + 60_000 + 10_000).toISOString() },
      { name: "timeout:compile", dueAt: new Date(T0 + 3_600_000).toISOString() },
    ]);
  });
});
