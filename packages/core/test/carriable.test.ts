import { describe, expect, it } from "vitest";
import { isCarriable, parseEventMessage, parseTaskMessage } from "../src/index.js";

describe("characters SQS or Postgres cannot carry", () => {
  it.each([
    ["NUL", "a\u0000b"],
    ["a lone high surrogate", "a\uD800"],
    ["a lone low surrogate", "\uDC00b"],
    ["U+FFFE", "\uFFFE"],
    ["U+FFFF", "x\uFFFF"],
    ["a control character", "bell\u0007"],
  ])("refuses %s", (_name, text) => {
    expect(isCarriable(text)).toBe(false);
  });

  it("accepts tabs, newlines, emoji and CJK", () => {
    expect(isCarriable("a\tb\nc\r 日本 🚀")).toBe(true);
  });

  it("refuses an event whose metadata value holds NUL, without quoting it, keeping the stack id", () => {
    const r = parseEventMessage(
      JSON.stringify({ stackId: "s-1", event: "TOUCH", metadata: { note: "x\u0000y" } }),
      "k",
    );
    expect(r).toEqual({
      ok: false,
      stackId: "s-1",
      reason:
        "metadata.note: contains a character that SQS or Postgres cannot carry (NUL, an unpaired surrogate, U+FFFE or U+FFFF, or a control character)",
    });
  });

  it("refuses a key that cannot be carried and a message nested too deeply", () => {
    const key = parseEventMessage(`{"stackId":"s-1","event":"TOUCH","metadata":{"a\\u0000":"1"}}`, "k");
    expect(key.ok).toBe(false);
    if (!key.ok)
      expect(key.reason).toBe("metadata: a key contains a character that SQS or Postgres cannot carry");
    let deep: unknown = "x";
    for (let i = 0; i < 100; i++) deep = [deep];
    const nested = parseTaskMessage({ stackId: "s-1", config: deep });
    expect(nested.ok).toBe(false);
    if (!nested.ok) expect(nested.reason).toMatch(/nested more than 64 levels deep/);
  });
});
