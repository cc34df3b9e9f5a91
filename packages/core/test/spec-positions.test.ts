import { describe, expect, it } from "vitest";
import { parseSpec } from "../src/index.js";

// Where a diagnostic points (docs/spec-reference.md, "Diagnostics": a path, a line and a column),
// for YAML the author wrote in ways the simple fixtures do not: merges, flow style, odd keys.

/** Error diagnostics as "line:column path: message". */
function errors(text: string): string[] {
  return parseSpec(text, { name: "m" })
    .diagnostics.filter((d) => d.severity === "error")
    .map((d) => `${d.line}:${d.column} ${d.path}: ${d.message}`);
}

const MACHINE = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: RUN}]
  RUN: {terminal: true, tasks: [t]}
`;

describe("positions of errors in merged mappings", () => {
  it("a key that comes from the second merge source points into that source", () => {
    const text = `${MACHINE}x-base: &base {executor: lambda}
x-config: &config
  config: {name: ""}
tasks:
  t:
    <<: [*base, *config]
`;
    // The empty name is written on line 10 (x-config's config), column 18 (its value).
    expect(errors(text)).toEqual(["10:18 tasks.t.config.name: must not be empty"]);
  });

  it("a key merged from a list of one source, beside explicit keys, points into the source", () => {
    const text = `${MACHINE}x-config: &config {config: {name: ""}}
tasks:
  t:
    executor: lambda
    <<: [*config]
`;
    expect(errors(text)).toEqual(["8:35 tasks.t.config.name: must not be empty"]);
  });

  it("a key behind more merge sources than are followed falls back to the nearest mapping found", () => {
    const empties = Array.from({ length: 200 }, (_, i) => `x-${i}: &e${i} {}`);
    const sources = Array.from({ length: 200 }, (_, i) => `*e${i}`).join(", ");
    const text = `${MACHINE}${empties.join("\n")}\nx-real: &real {executor: lambda, config: {name: ''}}\ntasks:\n  t: {<<: [${sources}, *real]}\n`;
    const lines = text.split("\n").length - 1;
    // Searching stops after 200 mappings, before *real: the position is the key t, on the last line.
    expect(errors(text)).toEqual([`${lines}:3 tasks.t.config.name: must not be empty`]);
  });
});

describe("positions of whole-document errors", () => {
  it("a spec written as a list is reported at its first line", () => {
    expect(errors("- version: 1\n- events: []\n")).toEqual([
      "1:1 : expected a mapping (key: value pairs), got a list",
    ]);
  });

  it("a spec written in flow style points at the offending value inside the braces", () => {
    expect(
      errors(
        "{version: 1, events: [LAUNCH], states: {INIT: {on: {LAUNCH: [{action: advance, state: DONE}]}}, DONE: {terminal: yes}}}\n",
      ),
    ).toEqual([
      // "yes" is a string in YAML 1.2, so no state is terminal either.
      '1:32 states: no state is terminal: mark at least one state "terminal: true" so that stacks can finish',
      '1:114 states.DONE.terminal: expected true or false, got the string "yes"',
    ]);
  });
});

describe("keys that are not plain scalars", () => {
  it("a collection used as a key in a free x- section does not stop the spec from compiling", () => {
    const result = parseSpec(
      `${MACHINE.replace("tasks: [t]", "tasks: []")}x-notes:\n  ? [a, b]\n  : pair\n`,
      {
        name: "m",
      },
    );
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(result.machine).not.toBeNull();
  });

  it("a collection used as a key where names are expected is reported at that key", () => {
    // Line 6 of the spec is `? [a, b]`, in the INIT state's `on`; its column is where the key starts.
    const text = MACHINE.replace(
      "      LAUNCH: [{action: advance, state: RUN}]\n",
      "      ? [a, b]\n      : [{action: advance, state: RUN}]\n",
    );
    expect(errors(text)).toContain(
      '6:9 states.INIT.on["[ a, b ]"]: "[ a, b ]" is not an event of this machine (events: LAUNCH)',
    );
    const top = "? {x: 1}\n: 2\n" + MACHINE;
    expect(errors(top).find((e) => e.includes("unknown key"))).toMatch(/^1:3 \["\{ x: 1 \}"\]: unknown key/);
  });

  it("a handler written twice in one state is reported at the second, with the line of the first", () => {
    // docs/spec-reference.md: states.INIT.on.LAUNCH: key "LAUNCH" appears more than once (first at line 6).
    const text = MACHINE.replace(
      "      LAUNCH: [{action: advance, state: RUN}]\n",
      "      LAUNCH: [{action: advance, state: RUN}]\n      LAUNCH: [{action: no-op}]\n",
    );
    expect(errors(text)).toContain(
      '7:7 states.INIT.on.LAUNCH: key "LAUNCH" appears more than once (first at line 6)',
    );
  });
});
