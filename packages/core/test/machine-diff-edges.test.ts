import { describe, expect, it } from "vitest";
import { changeAffects, diffMachines } from "../src/index.js";
import { machineFrom } from "./support.js";

// Changes `specs diff` reports that the main diff test does not meet (docs/cli.md "specs diff"):
// a machine-wide key added or removed, a state that becomes terminal, a task with many changed
// keys, a long value shortened for the detail column, and an event no state handles.

const BASE = `version: 1
events: [LAUNCH, SHIP, PING]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: BUILD }]
  BUILD:
    tasks: [compile]
    on:
      NEXT: [{ action: advance, state: DONE }]
  DONE:
    terminal: false
    on:
      SHIP: [{ action: advance, state: END }]
  END:
    terminal: true
tasks:
  compile:
    executor: lambda
    config: { name: compile, args: { a: 1, b: 2, c: 3, d: 4, e: 5 } }
`;

describe("machine diff edges", () => {
  it("reports a machine key added, then removed", () => {
    const with_ = machineFrom(BASE.replace("events:", "ttl: { idle: 3d, event: SHIP }\nevents:"), "m");
    const without = machineFrom(BASE, "m");
    expect(diffMachines(without, with_).changes).toContainEqual({
      subject: "machine",
      change: "added",
      name: "ttl",
      detail: '(unset) → {"idle":"3d","event":"SHIP"}',
    });
    expect(diffMachines(with_, without).changes).toContainEqual({
      subject: "machine",
      change: "removed",
      name: "ttl",
      detail: '{"idle":"3d","event":"SHIP"} → (unset)',
    });
  });

  it("setting upgrade to manual, its default, is no change; on-state-entry is", () => {
    const base = machineFrom(BASE, "m");
    const manual = machineFrom(BASE.replace("events:", "upgrade: manual\nevents:"), "m");
    expect(diffMachines(base, manual).changes).toEqual([]);
    const auto = machineFrom(BASE.replace("events:", "upgrade: on-state-entry\nevents:"), "m");
    expect(diffMachines(manual, auto).changes).toEqual([
      { subject: "machine", change: "changed", name: "upgrade", detail: "manual → on-state-entry" },
    ]);
  });

  it("says when a state becomes terminal", () => {
    const base = machineFrom(BASE, "m");
    const terminal = machineFrom(BASE.replace("terminal: false", "terminal: true"), "m");
    expect(diffMachines(base, terminal).changes).toContainEqual({
      subject: "state",
      change: "changed",
      name: "DONE",
      detail: "terminal: false → true",
    });
  });

  it("names the first four changed keys of a task and counts the rest", () => {
    const base = machineFrom(BASE, "m");
    const changed = machineFrom(
      BASE.replace("a: 1, b: 2, c: 3, d: 4, e: 5", "a: 9, b: 9, c: 9, d: 9, e: 9"),
      "m",
    );
    expect(diffMachines(base, changed).changes).toEqual([
      {
        subject: "task",
        change: "changed",
        name: "compile",
        detail: "config.args.a, config.args.b, config.args.c, config.args.d and 1 more",
      },
    ]);
  });

  it("shortens a long value in the detail to 60 characters", () => {
    const long = "x".repeat(80);
    const base = machineFrom(BASE, "m");
    const ttl = machineFrom(BASE.replace("events:", `x-note: ${long}\nschedules: []\nevents:`), "m");
    const change = diffMachines(base, ttl).changes.find((c) => c.name === "schedules");
    expect(change?.detail).toBe("(unset) → []");
    const described = machineFrom(
      BASE.replace(
        "events:",
        `notifications: [{ name: ${"n".repeat(50)}, on: [task-failed], sns: { topicArn: "arn:aws:sns:eu-west-1:123456789012:t" } }]\nevents:`,
      ),
      "m",
    );
    const detail = diffMachines(base, described).changes.find((c) => c.name === "notifications")?.detail;
    expect(detail).toMatch(/^\(unset\) → \[\{"name":"n+\.\.\.$/);
    expect(detail?.length).toBe("(unset) → ".length + 60);
  });

  it("an event no state handles touches no stack", () => {
    const base = machineFrom(BASE, "m");
    const dropped = machineFrom(BASE.replace("[LAUNCH, SHIP, PING]", "[LAUNCH, SHIP]"), "m");
    const change = diffMachines(base, dropped).changes.find((c) => c.subject === "event");
    expect(change).toMatchObject({ change: "removed", name: "PING" });
    expect(changeAffects(change!, { state: "DONE", tasks: [] })).toBe(false);
  });
});
