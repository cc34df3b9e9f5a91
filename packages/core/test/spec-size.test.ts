import { describe, expect, it } from "vitest";
import { MAX_SPEC_BYTES, parseSpec, specTooLargeMessage } from "../src/index.js";
import { bytesOver, formatBytes } from "../src/spec-limits.js";

// The 1 MiB limit is on UTF-8 bytes (docs/spec-reference.md, "YAML" diagnostics), not characters:
// a spec of accented text or emoji is larger than its length says.

describe("spec size in UTF-8 bytes", () => {
  it("counts 1 byte for ASCII, 2 for é, 3 for €, 4 for an emoji and 3 for each lone surrogate", () => {
    // a(1) é(2) €(3) 😀(4) lone high + x(3 + 1) lone low(3) lone high at the very end(3)
    expect(bytesOver("aé€😀\ud800x\udc00\ud800", 1)).toBe(20);
    expect(bytesOver("aé€😀\ud800x\udc00\ud800", 20)).toBeNull();
  });

  it("refuses a spec whose characters fit but whose bytes do not", () => {
    // 600,000 characters (well under 1,048,576) of two bytes each, after "# ".
    const text = `# ${"é".repeat(600_000)}`;
    expect(text.length).toBeLessThan(MAX_SPEC_BYTES);
    const result = parseSpec(text, { name: "m" });
    expect(result.machine).toBeNull();
    expect(result.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      "1:1 the spec is 1.1 MiB (1200002 bytes); a spec may be at most 1 MiB (1048576 bytes): split it into several machines or move data out of it",
    ]);
  });

  it("counts an emoji as 4 bytes, not as two 3-byte halves", () => {
    // 262,144 emoji are exactly 1 MiB: accepted by size (and then read as YAML).
    expect(bytesOver("😀".repeat(262_144), MAX_SPEC_BYTES)).toBeNull();
    expect(bytesOver(`${"😀".repeat(262_144)}!`, MAX_SPEC_BYTES)).toBe(MAX_SPEC_BYTES + 1);
  });

  it("names sizes in MiB, KiB or bytes", () => {
    expect(formatBytes(MAX_SPEC_BYTES)).toBe("1 MiB");
    expect(formatBytes(1.5 * 1024 * 1024)).toBe("1.5 MiB");
    expect(formatBytes(12.3 * 1024)).toBe("12.3 KiB");
    expect(formatBytes(1024)).toBe("1 KiB");
    expect(formatBytes(300)).toBe("300 bytes");
    expect(specTooLargeMessage(2 * 1024 * 1024)).toBe(
      "the spec is 2 MiB (2097152 bytes); a spec may be at most 1 MiB (1048576 bytes): split it into several machines or move data out of it",
    );
  });
});
