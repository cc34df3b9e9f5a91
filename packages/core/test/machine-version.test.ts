import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { machineVersion, sha256Hex, upgradeProblems } from "../src/index.js";
import { machineFrom } from "./support.js";

describe("sha256Hex", () => {
  it("matches the FIPS 180-4 examples", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("agrees with Node's crypto on any text, multi-byte and block-boundary lengths included", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (text) => {
        expect(sha256Hex(text)).toBe(createHash("sha256").update(text, "utf8").digest("hex"));
      }),
      { numRuns: 300 },
    );
  });
});

const BASE = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: RUN }]
  RUN:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  apply: { executor: lambda, config: { name: apply } }
`;

describe("machineVersion", () => {
  it("ignores comments, formatting, key order and x- anchor keys", () => {
    const reordered = `# a comment
x-unused: &u { a: 1 }
tasks:
  apply:
    config: { name: apply }   # same config, keys swapped
    executor: lambda
states:
  DONE: { terminal: true }
  RUN:
    on: { NEXT: [{ state: DONE, action: advance }] }
    tasks: [apply]
  INIT:
    on:
      LAUNCH:
        - action: advance
          state: RUN
events: [LAUNCH]
version: 1
`;
    expect(machineVersion(machineFrom(reordered, "m").spec)).toBe(
      machineVersion(machineFrom(BASE, "m").spec),
    );
    expect(machineFrom(BASE, "m").version).toMatch(/^[0-9a-f]{16}$/);
  });

  it("changes with anything that changes what a stack does", () => {
    const base = machineVersion(machineFrom(BASE, "m").spec);
    expect(machineVersion(machineFrom(BASE.replace("name: apply", "name: apply-2"), "m").spec)).not.toBe(
      base,
    );
    expect(
      machineVersion(machineFrom(BASE.replace("events: [LAUNCH]", "events: [LAUNCH, X]"), "m").spec),
    ).not.toBe(base);
  });
});

describe("upgradeProblems", () => {
  const v1 = machineFrom(BASE, "m");
  const stack = (state: string, tasks: string[]) => ({
    id: "s1",
    machine: "m",
    version: v1.version,
    state,
    metadata: {},
    tasks: tasks.map((name) => ({ name, status: "PENDING" as const, token: "t", attempt: 1 })),
    entry: 1,
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
  });

  it("accepts a stack whose state and tasks exist in the new version", () => {
    const v2 = machineFrom(BASE.replace("name: apply", "name: apply-2"), "m");
    expect(upgradeProblems(stack("RUN", ["apply"]), v2)).toEqual([]);
  });

  it("names every reason a stack would be stranded", () => {
    const v2 = machineFrom(BASE.replaceAll("RUN", "WORK").replaceAll("apply", "deploy"), "m");
    expect(upgradeProblems(stack("RUN", ["apply"]), v2)).toEqual([
      `state RUN does not exist in version ${v2.version} (states: INIT, WORK, DONE)`,
      `task apply (PENDING) is not defined in version ${v2.version}`,
    ]);
    expect(upgradeProblems(stack("RUN", []), machineFrom(BASE, "other"))).toEqual([
      `version ${v1.version} is of machine other, not m`,
    ]);
  });
});
