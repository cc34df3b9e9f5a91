import { describe, expect, it } from "vitest";
import { machineGraphModel } from "../src/index.js";
import { machineFrom } from "./support.js";

describe("machineGraphModel", () => {
  it("lists states in spec order and each handled event once, no-ops as self-loops", () => {
    const machine = machineFrom(
      [
        "version: 1",
        "events: [GO, POKE]",
        "states:",
        "  INIT: { on: { GO: [{ action: advance, state: WORK }] } }",
        "  WORK:",
        "    tasks: [job]",
        "    on: { POKE: [{ action: no-op }], NEXT: [{ action: advance, state: DONE }] }",
        "  DONE: { terminal: true }",
        "tasks: { job: { executor: lambda, config: { name: job } } }",
        "",
      ].join("\n"),
      "m",
    );
    expect(machineGraphModel(machine)).toEqual({
      machine: "m",
      initial: "INIT",
      states: [
        { name: "INIT", tasks: [], terminal: false },
        { name: "WORK", tasks: ["job"], terminal: false },
        { name: "DONE", tasks: [], terminal: true },
      ],
      edges: [
        { from: "INIT", to: "WORK", label: "GO", event: "GO", noop: false },
        { from: "WORK", to: "WORK", label: "POKE (no-op)", event: "POKE", noop: true },
        { from: "WORK", to: "DONE", label: "NEXT", event: "NEXT", noop: false },
      ],
    });
  });
});
