import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_SPEC_BYTES,
  MAX_SPEC_DEPTH,
  parseEventMessage,
  parseSpec,
  parseTaskMessage,
  parseTaskReport,
  type SpecResult,
} from "../src/index.js";

// A valid spec to hang hostile parts on; `x-` keys at the top level are free for anchors.
const VALID = `version: 1
events: [GO, DESTROY]
states:
  INIT:
    on:
      GO: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
`;
const VALID_LINES = VALID.split("\n").length - 1;

/** The error diagnostics, in the form a reader sees them. */
const errors = (result: SpecResult) =>
  result.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.line}:${d.column}: ${d.message}`);

/** Checks what every parse must give, whatever the input: a result, never an exception. */
function wellFormed(result: SpecResult): void {
  const errorCount = result.diagnostics.filter((d) => d.severity === "error").length;
  expect(result.machine === null).toBe(errorCount > 0);
  for (const d of result.diagnostics) {
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.column).toBeGreaterThanOrEqual(1);
  }
}

describe("spec size and nesting limits", () => {
  it("refuses the 6 KB spec of issue 12 (x-deep: then '- ' three thousand times) with a positioned diagnostic", () => {
    const text = `${VALID}x-deep:\n${"- ".repeat(3000)}\n`;
    expect(text.length).toBeLessThan(7000);
    const result = parseSpec(text, { name: "m", file: "m.yml" });
    expect(result.machine).toBeNull();
    // The 64th "- " opens the 65th collection (the top-level mapping is the first): column 2 × 63 + 1.
    expect(errors(result)).toEqual([
      `${VALID_LINES + 2}:127: mappings and lists are nested more than 64 levels deep here; a spec may nest at most 64`,
    ]);
  });

  it("never throws on block nesting up to thousands of levels", () => {
    // Every depth around the limit and around 2,000, where the old readers overflowed Node 24's
    // default stack (the YAML library caught its own overflow; ours threw RangeError), then a sample.
    const depths = [
      ...Array.from({ length: 100 }, (_, i) => i + 1),
      ...Array.from({ length: 200 }, (_, i) => 1900 + i),
      ...Array.from({ length: 60 }, (_, i) => 50 * (i + 1)),
    ];
    for (const depth of depths) {
      wellFormed(parseSpec(`${VALID}x-deep:\n${"- ".repeat(depth)}x\n`, { name: "m" }));
      wellFormed(parseSpec(`x-deep:\n${"- ".repeat(depth)}\n`, { name: "m" }));
    }
  });

  it("counts mappings, lists and flow collections alike, and stops at the limit exactly", () => {
    expect(MAX_SPEC_DEPTH).toBe(64);
    const forms: Record<string, (n: number) => string> = {
      "flow lists": (n) => `x-deep: ${"[".repeat(n)}${"]".repeat(n)}\n`,
      "flow mappings": (n) => `x-deep: ${"{a: ".repeat(n)}x${"}".repeat(n)}\n`,
      "block mappings": (n) =>
        `x-deep:\n${Array.from({ length: n }, (_, i) => `${" ".repeat(i + 1)}a:`).join("\n")} x\n`,
      "indented block lists": (n) =>
        `x-deep:\n${Array.from({ length: n }, (_, i) => `${"  ".repeat(i)}-`).join("\n")} x\n`,
    };
    for (const [form, nest] of Object.entries(forms)) {
      const atLimit = parseSpec(VALID + nest(63), { name: "m" });
      expect(atLimit.machine, form).not.toBeNull();
      const over = parseSpec(VALID + nest(64), { name: "m" });
      expect(errors(over), form).toEqual([expect.stringMatching(/nested more than 64 levels deep here/)]);
      expect(over.diagnostics[0]?.line, form).toBeGreaterThan(VALID_LINES);
    }
  });

  it("counts what aliases bring in: anchored lists nested in each other are refused at the path that goes too deep", () => {
    const nest = (n: number, inner: string) => `${"[".repeat(n)}${inner}${"]".repeat(n)}`;
    const text = `${VALID}x-a: &a ${nest(40, "x")}\nx-b: &b ${nest(40, "*a")}\n`;
    const result = parseSpec(text, { name: "m" });
    expect(result.machine).toBeNull();
    const [only, ...rest] = result.diagnostics;
    expect(rest).toEqual([]);
    expect(only?.message).toMatch(
      /nested more than 64 levels deep here; .* \(counting what aliases bring in\)/,
    );
    // 64 levels of x-b's own and x-a's lists: the 65th is the first list of x-a that *a brings in.
    expect(only?.path).toMatch(/^x-b(\[0\]){63}$/);
    expect(only?.line).toBe(VALID_LINES + 1);
  });

  it("refuses a spec over 1 MiB before reading it as YAML, counting UTF-8 bytes", () => {
    expect(MAX_SPEC_BYTES).toBe(1024 * 1024);
    const atLimit = `${VALID}# ${"x".repeat(MAX_SPEC_BYTES - VALID.length - 3)}\n`;
    expect(new TextEncoder().encode(atLimit).length).toBe(MAX_SPEC_BYTES);
    expect(parseSpec(atLimit, { name: "m" }).machine).not.toBeNull();

    const over = `${atLimit}# ${"x".repeat(10)}\n`;
    expect(errors(parseSpec(over, { name: "m" }))).toEqual([
      `1:1: the spec is 1 MiB (${new TextEncoder().encode(over).length} bytes); a spec may be at most 1 MiB (1048576 bytes): split it into several machines or move data out of it`,
    ]);
    // Fewer characters than the limit, but "é" is two bytes in UTF-8.
    const wide = `${VALID}# ${"é".repeat(MAX_SPEC_BYTES / 2 + 10)}\n`;
    expect(wide.length).toBeLessThan(MAX_SPEC_BYTES);
    expect(errors(parseSpec(wide, { name: "m" }))).toEqual([
      expect.stringMatching(/^1:1: the spec is 1 MiB/),
    ]);
    expect(errors(parseSpec("x".repeat(10 * MAX_SPEC_BYTES), { name: "m" }))).toEqual([
      expect.stringMatching(/^1:1: the spec is 10 MiB \(10485760 bytes\)/),
    ]);
  });
});

describe("hostile specs within the limits", () => {
  it("a state name and a reference of 200,000 characters each are reported without comparing them for a typo", () => {
    // Edit distance costs the product of the lengths: 4·10¹⁰ steps here, hours, before the fix.
    const a = "A".repeat(200_000);
    const b = "B".repeat(200_000);
    const text = `version: 1\nevents: [GO]\nstates:\n  INIT:\n    on:\n      GO: [{ action: advance, state: ${b} }]\n  ? ${a}\n  : terminal: true\n`;
    const result = parseSpec(text, { name: "m" });
    expect(result.machine).toBeNull();
    expect(errors(result)).toEqual([
      "6:38: value is 200000 characters long; the limit is 64 characters",
      expect.stringMatching(/^7:5: "A{76}…" is too long/),
    ]);
  });

  it("lists at most 20 names in a message, so thousands of errors do not each carry every name", () => {
    const states = Array.from(
      { length: 30 },
      (_, i) => `  S${i}: { on: { GO: [{ action: advance, state: INIT }] } }`,
    );
    const text = `version: 1\nevents: [GO]\nstates:\n  INIT:\n    on:\n      GO: [{ action: advance, state: NOPE }]\n${states.join("\n")}\n  END: { terminal: true }\n`;
    const message = errors(parseSpec(text, { name: "m" })).find((e) => e.includes('"NOPE"'));
    expect(message).toBe(
      `6:38: "NOPE" is not a state of this machine (states: INIT, ${Array.from({ length: 19 }, (_, i) => `S${i}`).join(", ")}, … (32 in all))`,
    );
  });
});

// Pieces of YAML that open collections, so random concatenations nest in every way YAML allows.
const openers = fc.constantFrom(
  "- ",
  "[",
  "{",
  "{a: ",
  "? ",
  "a:\n ",
  "&x ",
  "*x ",
  "<<: *x\n",
  "!!map ",
  "\n  ",
);
const deepText = fc
  .tuple(
    fc.array(openers, { minLength: 1, maxLength: 4 }),
    fc.integer({ min: 1, max: 3000 }),
    fc.boolean(),
    fc.string({ maxLength: 4 }),
  )
  .map(
    ([unit, times, withValid, tail]) =>
      `${withValid ? VALID : ""}x-deep: ${unit.join("").repeat(times)}${tail}`,
  );

describe("parseSpec never throws", () => {
  it("on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) =>
        wellFormed(parseSpec(text, { name: "m" })),
      ),
      { numRuns: 200 },
    );
  });

  it("on arbitrary bytes, however they are decoded", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        wellFormed(parseSpec(new TextDecoder("utf-8").decode(bytes), { name: "m" }));
        wellFormed(parseSpec(new TextDecoder("latin1").decode(bytes), { name: "m" }));
      }),
      { numRuns: 300 },
    );
  });

  it("on nesting of any kind and depth", () => {
    fc.assert(
      fc.property(deepText, (text) => wellFormed(parseSpec(text, { name: "m" }))),
      // Error-dense YAML costs the library tens of microseconds a byte: few runs, each up to ~100 KB.
      { numRuns: 40 },
    );
  });

  it("on huge input", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 4 }), (unit, mib) => {
        const text = unit.repeat(Math.ceil((mib * MAX_SPEC_BYTES) / unit.length) + 1);
        const result = parseSpec(text, { name: "m" });
        wellFormed(result);
        expect(result.diagnostics).toHaveLength(1);
        expect(result.diagnostics[0]?.message).toMatch(/a spec may be at most 1 MiB/);
      }),
      { numRuns: 10 },
    );
  });
});

describe("message parsing never throws on deep JSON", () => {
  it("refuses bodies nested thousands of levels deep as data", () => {
    for (const depth of [100, 10_000, 100_000]) {
      const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`;
      const body = `{"stackId":"s-1","event":"GO","task":"t","token":"x","metadata":{"a":${deep}}}`;
      for (const parse of [(b: string) => parseEventMessage(b, "k"), parseTaskMessage, parseTaskReport]) {
        const result = parse(body);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.reason).toMatch(/nested more than 64 levels deep/);
      }
    }
  });
});
