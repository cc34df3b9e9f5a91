import { describe, expect, it } from "vitest";
import { changeAffects, diffMachines, type MachineChange, type StackTask } from "../src/index.js";
import { machineFrom } from "./support.js";

const V1 = `version: 1
events: [LAUNCH, SHIP, POKE]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: BUILD }]
  BUILD:
    tasks: [compile]
    on:
      NEXT: [{ action: advance, state: READY }]
  READY:
    on:
      POKE: [{ action: no-op }]
      SHIP: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  compile:
    executor: lambda
    config: { name: compile, args: { level: 1 } }
`;

/** v1 with BUILD renamed COMPILE, compile's args changed, a test task added, POKE dropped, auto-upgrade on. */
const V2 = `version: 1
upgrade: on-state-entry
events: [LAUNCH, SHIP, STOP]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: COMPILE }]
  COMPILE:
    tasks: [compile, test]
    on:
      NEXT: [{ action: advance, state: READY }]
  READY:
    on:
      SHIP: [{ action: advance, state: DONE }]
      STOP: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  compile:
    executor: lambda
    config: { name: compile, args: { level: 2 } }
  test:
    executor: lambda
    config: { name: test }
`;

const task = (name: string): StackTask => ({ name, status: "PENDING", token: "t", attempt: 1 });

describe("diffMachines", () => {
  it("finds nothing between two texts of the same machine", () => {
    const a = machineFrom(V1, "build");
    const b = machineFrom(
      `# reformatted\n${V1.replace("[LAUNCH, SHIP, POKE]", "\n  - LAUNCH\n  - SHIP\n  - POKE")}`,
      "build",
    );
    expect(diffMachines(a, b).changes).toEqual([]);
  });

  it("lists every state, event, task, transition and machine setting added, removed or changed", () => {
    const v1 = machineFrom(V1, "build");
    const v2 = machineFrom(V2, "build");
    const diff = diffMachines(v1, v2);
    expect(diff).toMatchObject({ machine: "build", from: v1.version, to: v2.version });
    expect(diff.changes).toEqual([
      { subject: "machine", change: "changed", name: "upgrade", detail: "manual → on-state-entry" },
      { subject: "event", change: "removed", name: "POKE", states: ["READY"] },
      { subject: "event", change: "added", name: "STOP", states: ["READY"] },
      {
        subject: "state",
        change: "removed",
        name: "BUILD",
        detail: "tasks [compile]; handles NEXT",
      },
      {
        subject: "state",
        change: "added",
        name: "COMPILE",
        detail: "tasks [compile, test]; handles NEXT",
      },
      { subject: "task", change: "changed", name: "compile", detail: "config.args.level" },
      { subject: "task", change: "added", name: "test", detail: "lambda" },
      {
        subject: "transition",
        change: "changed",
        name: "INIT on LAUNCH",
        state: "INIT",
        event: "LAUNCH",
        detail: "advance BUILD → advance COMPILE",
      },
      {
        subject: "transition",
        change: "removed",
        name: "READY on POKE",
        state: "READY",
        event: "POKE",
        detail: "no-op",
      },
      {
        subject: "transition",
        change: "added",
        name: "READY on STOP",
        state: "READY",
        event: "STOP",
        detail: "advance DONE",
      },
    ]);
  });

  it("reports a state's terminal flag and task list, and a task's executor swap", () => {
    const before = machineFrom(V1, "build");
    const after = machineFrom(
      V1.replace("  DONE:\n    terminal: true", "  DONE:\n    terminal: true\n  OTHER:\n    terminal: true")
        .replace("SHIP: [{ action: advance, state: DONE }]", "SHIP: [{ action: advance, state: OTHER }]")
        .replace("    config: { name: compile, args: { level: 1 } }", "    config: { name: compile2 }"),
      "build",
    );
    const changes = diffMachines(before, after).changes;
    expect(changes).toContainEqual({
      subject: "task",
      change: "changed",
      name: "compile",
      detail: "config.name, config.args",
    });
    expect(changes).toContainEqual({ subject: "state", change: "added", name: "OTHER", detail: "terminal" });
    expect(changes).toContainEqual(
      expect.objectContaining({ name: "READY on SHIP", detail: "advance DONE → advance OTHER" }),
    );
    const tasksChanged = diffMachines(
      machineFrom(V2, "build"),
      machineFrom(V2.replace("tasks: [compile, test]", "tasks: [test]"), "build"),
    ).changes;
    expect(tasksChanged).toEqual([
      { subject: "state", change: "changed", name: "COMPILE", detail: "tasks: [compile, test] → [test]" },
    ]);
  });

  it("treats an explicit upgrade: manual as the default it always was", () => {
    const a = machineFrom(V1, "build");
    const b = machineFrom(`upgrade: manual\n${V1}`, "build");
    expect(diffMachines(a, b).changes).toEqual([]);
  });
});

describe("changeAffects", () => {
  const stack = (state: string, tasks: string[] = []) => ({ state, tasks: tasks.map(task) });
  const cases: [MachineChange, { state: string; tasks?: string[] }, boolean][] = [
    [{ subject: "state", change: "removed", name: "BUILD" }, { state: "BUILD", tasks: ["compile"] }, true],
    [{ subject: "state", change: "removed", name: "BUILD" }, { state: "READY" }, false],
    [{ subject: "state", change: "added", name: "BUILD" }, { state: "BUILD" }, false],
    [{ subject: "task", change: "removed", name: "compile" }, { state: "X", tasks: ["compile"] }, true],
    [{ subject: "task", change: "changed", name: "compile" }, { state: "X", tasks: ["other"] }, false],
    [{ subject: "task", change: "added", name: "compile" }, { state: "X", tasks: ["compile"] }, false],
    [
      { subject: "transition", change: "added", name: "READY on STOP", state: "READY", event: "STOP" },
      { state: "READY" },
      true,
    ],
    [{ subject: "event", change: "removed", name: "POKE", states: ["READY"] }, { state: "READY" }, true],
    [{ subject: "event", change: "removed", name: "POKE", states: ["READY"] }, { state: "BUILD" }, false],
    [{ subject: "machine", change: "changed", name: "upgrade" }, { state: "ANY" }, true],
  ];
  it.each(cases)("%o touches %o: %s", (change, s, expected) => {
    expect(changeAffects(change, stack(s.state, s.tasks))).toBe(expected);
  });
});
