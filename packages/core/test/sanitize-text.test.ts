import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCarriable, sanitizeText } from "../src/index.js";

describe("sanitizeText", () => {
  it("removes SGR colours and keeps the words", () => {
    // What `terraform` prints without -no-color, and what most wrappers add.
    const coloured =
      "\u001b[31m\u001b[1m│\u001b[0m \u001b[0m\u001b[1m\u001b[31mError: \u001b[0m\u001b[0m\u001b[1mboom\u001b[0m";
    expect(sanitizeText(coloured)).toBe("│ Error: boom");
  });

  it("removes cursor movement, private modes, OSC titles and hyperlinks (BEL or ST terminated)", () => {
    expect(sanitizeText("a\u001b[2K\u001b[1G\u001b[?25lb")).toBe("ab");
    expect(sanitizeText("\u001b]0;my title\u0007plan")).toBe("plan");
    expect(sanitizeText("see \u001b]8;;https://example.com\u001b\\docs\u001b]8;;\u001b\\ now")).toBe(
      "see docs now",
    );
    expect(sanitizeText("x\u001bPq#0;2;0;0;0\u001b\\y")).toBe("xy");
  });

  it("removes the 8-bit forms of CSI and OSC", () => {
    expect(sanitizeText("\u009b31mred\u009b0m")).toBe("red");
    expect(sanitizeText("\u009d0;t\u009cok")).toBe("ok");
  });

  it("removes two-byte escapes and character-set selections", () => {
    expect(sanitizeText("\u001bc\u001b(Bhi\u001b7\u001b8")).toBe("hi");
  });

  it("does not let an unterminated OSC swallow the text after it", () => {
    expect(sanitizeText("\u001b]0;title with no end\nError: the real error")).toBe(
      "0;title with no end\nError: the real error",
    );
  });

  it("turns CRLF and lone CR into LF", () => {
    expect(sanitizeText("a\r\nb\rc")).toBe("a\nb\nc");
  });

  it("shows other control characters as control pictures, and unstorable code points as U+FFFD", () => {
    expect(sanitizeText("nul\u0000 bel\u0007 bs\u0008 del\u007f")).toBe(
      "nul\u2400 bel\u2407 bs\u2408 del\u2421",
    );
    expect(sanitizeText("a\uFFFEb\uFFFFc")).toBe("a\uFFFDb\uFFFDc");
    expect(sanitizeText("lone \uD800 high")).toBe("lone \uFFFD high");
    expect(sanitizeText("c1 \u0085 next line")).toBe("c1 \uFFFD next line");
  });

  it("leaves carriable text alone: tabs, newlines, accents, emoji", () => {
    const text = "Plan: 1 to add\tüñí 🚀\n  # terraform_data.env will be created";
    expect(sanitizeText(text)).toBe(text);
  });

  it("always returns carriable text, and is idempotent", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 300 }),
          fc
            .array(
              fc.oneof(
                fc.constantFrom(
                  "\u001b",
                  "[",
                  "]",
                  "\u0007",
                  "\\",
                  "\u009b",
                  "\u009d",
                  "\u009c",
                  "m",
                  ";",
                  "\r",
                  "\n",
                ),
                fc.string({ maxLength: 5 }),
                fc
                  .integer({ min: 0, max: 0x10ffff })
                  .map((n) => (n >= 0xd800 && n <= 0xdfff ? "\ud800" : String.fromCodePoint(n))),
              ),
              { maxLength: 80 },
            )
            .map((parts) => parts.join("")),
        ),
        (text) => {
          const clean = sanitizeText(text);
          expect(isCarriable(clean)).toBe(true);
          expect(clean).not.toContain("\u001b");
          expect(sanitizeText(clean)).toBe(clean);
        },
      ),
      { numRuns: 500 },
    );
  }, 60_000);
});

describe("control strings too long to be real", () => {
  it("an OSC title ended by BEL within 4096 characters is removed", () => {
    expect(sanitizeText(`\u001b]0;${"t".repeat(100)}\u0007Error: boom`)).toBe("Error: boom");
  });

  it("one whose end comes later is stray bytes: its introducer goes, the text it would swallow stays", () => {
    const title = "t".repeat(5000);
    expect(sanitizeText(`\u001b]0;${title}\u0007Error: boom`)).toBe(`0;${title}\u2407Error: boom`);
  });
});
