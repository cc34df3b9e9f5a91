import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { machineGraph } from "../src/index.js";
import { machineFrom } from "./support.js";

const qaEnv = machineFrom(
  readFileSync(new URL("../../../examples/specs/qa-env.yml", import.meta.url), "utf8"),
  "qa-env",
);

describe("machineGraph", () => {
  it("draws a Mermaid state diagram", () => {
    expect(machineGraph(qaEnv, "mermaid")).toBe(
      [
        "stateDiagram-v2",
        "  %% machine qa-env",
        "  [*] --> INIT",
        "  INIT --> PROVISION: LAUNCH",
        "  PROVISION --> RUN: NEXT",
        "  PROVISION --> PROVISION: UPDATE (deferred)",
        "  PROVISION --> PROVISION: DESTROY (deferred)",
        "  RUN --> TEARDOWN: DESTROY",
        "  RUN --> RUN: TOUCH (no-op)",
        "  RUN --> FREEZING: FREEZE",
        "  RUN --> PROVISION: UPDATE",
        "  FREEZING --> FROZEN: NEXT",
        "  FROZEN --> TEARDOWN: DESTROY",
        "  FROZEN --> FROZEN: TOUCH (no-op)",
        "  FROZEN --> THAWING: THAW",
        "  FROZEN --> THAWING: UPDATE",
        "  THAWING --> RUN: NEXT",
        "  TEARDOWN --> [*]",
        "  note right of PROVISION: tasks: provision-env",
        "  note right of FREEZING: tasks: freeze-env",
        "  note right of THAWING: tasks: thaw-env",
        "  note right of TEARDOWN: tasks: destroy-env",
        "",
      ].join("\n"),
    );
  });

  it("gives dashed state names a Mermaid id", () => {
    const machine = machineFrom(
      "version: 1\nevents: [GO]\nstates:\n  INIT: { on: { GO: [{ action: advance, state: ALL-DONE }] } }\n  ALL-DONE: { terminal: true }\n",
    );
    const graph = machineGraph(machine, "mermaid");
    expect(graph).toContain('  state "ALL-DONE" as ALL_DONE\n');
    expect(graph).toContain("  INIT --> ALL_DONE: GO\n");
    expect(graph).toContain("  ALL_DONE --> [*]\n");
  });

  it("draws a DOT digraph", () => {
    const dot = machineGraph(qaEnv, "dot");
    expect(dot.startsWith('digraph "qa-env" {\n')).toBe(true);
    expect(dot).toContain('  "[*]" -> "INIT";\n');
    expect(dot).toContain('  "PROVISION" [label="PROVISION\\ntasks: provision-env"];\n');
    expect(dot).toContain('  "TEARDOWN" [label="TEARDOWN\\ntasks: destroy-env", peripheries=2];\n');
    expect(dot).toContain('  "RUN" -> "FREEZING" [label="FREEZE"];\n');
    expect(dot.endsWith("}\n")).toBe(true);
  });
});
