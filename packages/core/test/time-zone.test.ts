import { isTimeZone, scheduleProblem } from "@stackseam/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

// The reference: what Intl itself accepts (the check isTimeZone used to be).
function intlAccepts(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const SPELLINGS = [
  "UTC",
  "utc",
  "Etc/UTC",
  "GMT",
  "Etc/GMT+5",
  "Z",
  "US/Eastern",
  "Asia/Kolkata",
  "Asia/Calcutta",
  "europe/berlin",
  "EUROPE/BERLIN",
  "EST5EDT",
  "+01:00",
  "-0530",
  "",
  " Europe/Berlin",
  "Europe/Berlin ",
  "Europe/Atlantis",
  "../etc/passwd",
  "Europe/Berlin; rm -rf / $(touch x)",
  "x".repeat(100_000),
];

describe("isTimeZone", () => {
  it("accepts exactly what Intl.DateTimeFormat accepts: every canonical zone, aliases, other spellings", () => {
    const names = [...Intl.supportedValuesOf("timeZone"), ...SPELLINGS];
    const differ = names.filter((n) => isTimeZone(n) !== intlAccepts(n));
    expect(differ).toEqual([]);
    // The list holds both kinds, so both paths are exercised.
    expect(SPELLINGS.filter(intlAccepts).length).toBeGreaterThan(3);
    expect(SPELLINGS.filter((n) => !intlAccepts(n)).length).toBeGreaterThan(3);
  });

  it("agrees with Intl on arbitrary strings, and on zone names bent out of shape", () => {
    const zones = Intl.supportedValuesOf("timeZone");
    const bent = fc
      .tuple(fc.constantFrom(...zones), fc.constantFrom("lower", "upper", "slash", "suffix"))
      .map(([z, how]) =>
        how === "lower"
          ? z.toLowerCase()
          : how === "upper"
            ? z.toUpperCase()
            : how === "slash"
              ? `${z}/`
              : `${z}x`,
      );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "grapheme-ascii" }), bent), (name) => {
        expect(isTimeZone(name)).toBe(intlAccepts(name));
      }),
      { numRuns: 300 },
    );
  });

  it("is what a schedule's time zone is checked with", () => {
    expect(scheduleProblem("0 19 * * 1-5", "Europe/Berlin")).toBeUndefined();
    expect(scheduleProblem("0 19 * * 1-5", "us/eastern")).toBeUndefined();
    expect(scheduleProblem("0 19 * * 1-5", "Europe/Atlantis")).toMatch(
      /"Europe\/Atlantis" is not a time zone/,
    );
  });
});
