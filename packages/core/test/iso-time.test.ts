import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isoTime } from "../src/index.js";

// The engine's timestamps are Date.prototype.toISOString text (docs/state-manager.md, "Stacks"):
// isoTime must write exactly what V8's toISOString writes, which is the reference here.
describe("isoTime", () => {
  const MAX = 8.64e15; // ECMAScript's time range: ±100,000,000 days from the epoch

  it("writes what toISOString writes, for every time in range", () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX, max: MAX }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
        expect(isoTime(new Date(ms))).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5000 },
    );
  });

  it("at the edges of the four-digit years and of each field", () => {
    for (const text of [
      "0999-12-31T23:59:59.999Z",
      "1000-01-01T00:00:00.000Z",
      "1970-01-01T00:00:00.000Z",
      "2026-02-28T09:05:07.008Z",
      "2028-02-29T10:10:10.010Z",
      "2026-12-01T23:59:59.099Z",
      "9999-12-31T23:59:59.999Z",
      "+010000-01-01T00:00:00.000Z",
      "-000001-06-15T12:00:00.500Z",
    ]) {
      const ms = Date.parse(text);
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      expect(isoTime(ms)).toBe(text);
    }
  });

  it("throws toISOString's RangeError for a time that is not one", () => {
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(MAX + 1)).toThrow(RangeError);
    expect(() => isoTime(new Date("not a date"))).toThrow(RangeError);
  });
});
