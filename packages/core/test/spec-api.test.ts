import { describe, expect, it } from "vitest";
import { diffMachines, machineGraphModel, parseSpec, parseSpecOrThrow, SpecError } from "../src/index.js";
import { machineFrom } from "./support.js";

// The spec entry points other packages call (the CLI's validate, the State Manager's loaders):
// what they return, throw and print, as docs/spec-reference.md and docs/cli.md describe it.

const VALID = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: DONE}]
  DONE: {terminal: true}
`;

describe("parseSpecOrThrow", () => {
  it("returns the machine of a valid spec", () => {
    const { machine, diagnostics } = parseSpecOrThrow(VALID, { name: "m", file: "specs/m.yml" });
    expect(machine.name).toBe("m");
    expect(machine.file).toBe("specs/m.yml");
    expect(diagnostics).toEqual([]);
  });

  it("throws every error as file:line:column lines, a pathless one without a path", () => {
    let thrown: unknown;
    try {
      parseSpecOrThrow("", { name: "m", file: "specs/m.yml" });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SpecError);
    expect((thrown as SpecError).message).toBe(
      "machine m is invalid:\nspecs/m.yml:1:1: error: the spec is empty: expected a mapping with version, events and states",
    );
    expect((thrown as SpecError).diagnostics).toHaveLength(1);
  });
});

describe("whole numbers", () => {
  it("retry attempts written as a quoted number are asked to be a whole number", () => {
    const text = `${VALID.replace("  DONE: {terminal: true}\n", "  DONE: {terminal: true, tasks: [t]}\n")}tasks:\n  t: {executor: lambda, config: {name: fn}, retry: {attempts: "3"}}\n`;
    expect(parseSpec(text, { name: "m" }).diagnostics.map((d) => `${d.path}: ${d.message}`)).toEqual([
      'tasks.t.retry.attempts: expected a whole number, got the string "3"',
    ]);
  });
});

describe("the drawn graph", () => {
  it("draws two identical advances of one handler as one edge", () => {
    const machine = machineFrom(
      VALID.replace(
        "[{action: advance, state: DONE}]",
        "[{action: advance, state: DONE}, {action: advance, state: DONE}]",
      ),
    );
    expect(machineGraphModel(machine).edges).toEqual([
      { from: "INIT", to: "DONE", label: "LAUNCH", event: "LAUNCH", noop: false },
    ]);
  });
});

describe("machine diffs", () => {
  const WITH_TASK = `${VALID.replace("  DONE: {terminal: true}\n", "  DONE: {terminal: true, tasks: [cleanup]}\n")}tasks:\n  cleanup: {executor: lambda, config: {name: fn}}\n`;

  it("a task the new version drops is removed, with its executor", () => {
    const from = machineFrom(WITH_TASK);
    const to = machineFrom(VALID);
    expect(diffMachines(from, to).changes).toContainEqual({
      subject: "task",
      change: "removed",
      name: "cleanup",
      detail: "lambda",
    });
  });

  it("dropping upgrade: on-state-entry goes back to manual, its default", () => {
    const from = machineFrom(VALID.replace("events:", "upgrade: on-state-entry\nevents:"));
    const to = machineFrom(VALID);
    expect(diffMachines(from, to).changes).toEqual([
      { subject: "machine", change: "changed", name: "upgrade", detail: "on-state-entry → manual" },
    ]);
  });
});
