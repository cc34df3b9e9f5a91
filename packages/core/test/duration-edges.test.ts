import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../src/index.js";
import { decide, ev, fakeDeps, machineFrom } from "./support.js";

// docs/spec-reference.md, "Durations": whole numbers with units, largest first; a duration too
// large to count in milliseconds exactly is not one.

describe("durations at their edges", () => {
  it("nothing, or less, is written 0s", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(-1500)).toBe("0s");
    expect(formatDuration(90_061_001)).toBe("1d1h1m1s1ms");
  });

  it("a duration past 2^53 milliseconds is not a duration", () => {
    // 104249991 days is just under 2^53 ms (9007199254740992 / 86400000 = 104249991.37…).
    expect(parseDuration("104249991d")).toBe(104_249_991 * 86_400_000);
    expect(parseDuration("104249992d")).toBeUndefined();
  });

  it("EXTEND_TTL with such a duration is refused", () => {
    const machine = machineFrom(
      "version: 1\nevents: [LAUNCH]\nstates:\n  INIT:\n    on:\n      LAUNCH: [{action: no-op}]\n  DONE: {terminal: true}\n",
    );
    const deps = fakeDeps();
    const created = decide(machine, null, ev("LAUNCH", { machine: "m" }), deps);
    if (created.outcome !== "applied") throw new Error(created.reason);
    expect(decide(machine, created.stack, ev("EXTEND_TTL", { ttl: "104249992d" }), deps)).toMatchObject({
      outcome: "refused",
      reason: 'EXTEND_TTL: "104249992d" is not a duration, never or default',
    });
  });
});

describe("parsed durations, remembered", () => {
  it("gives the same answers however many texts it has seen", () => {
    // More distinct texts than it keeps: each is still parsed right, first time and again.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 600; i++) expect(parseDuration(`${i}m`)).toBe(i * 60_000);
      expect(parseDuration("1h30m")).toBe(5_400_000);
      expect(parseDuration("30x")).toBeUndefined();
      expect(parseDuration("30x")).toBeUndefined();
    }
  });
});
