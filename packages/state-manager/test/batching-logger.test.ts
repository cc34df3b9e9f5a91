import { Logger } from "@aws-lambda-powertools/logger";
import { BatchingLogger, canHold, createLogger, HOLD_MS } from "@stackseam/state-manager";
import { afterEach, describe, expect, it, vi } from "vitest";
import { spyWrites } from "./helpers.js";

const SERVICE = "stackseam-test";

// The lines plain Powertools prints for the same calls: the reference the held lines must match.
function powertoolsLines(calls: (logger: Logger) => void): string[] {
  const spy = spyWrites();
  try {
    calls(new Logger({ serviceName: SERVICE }));
  } finally {
    spy.restore();
  }
  return spy.writes
    .map((w) => w.text)
    .join("")
    .split("\n")
    .filter(Boolean);
}

// Timestamps and stack traces (the errors are made at different call sites) differ between two
// loggers' runs; everything else must be identical.
const withoutTime = (line: string) => {
  const { timestamp, ...rest } = JSON.parse(line, (key, value) => (key === "stack" ? undefined : value));
  expect(typeof timestamp).toBe("string");
  return rest;
};

function held(): { logger: BatchingLogger; writes: string[] } {
  const writes: string[] = [];
  const logger = new BatchingLogger({ serviceName: SERVICE }).writeTo((text) => writes.push(text));
  return { logger, writes };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("BatchingLogger", () => {
  it("holds INFO lines until release, then writes them in one write, as Powertools prints them", () => {
    const calls = (l: Logger) => {
      l.info("event applied", { stackId: "a", path: ["PROVISION"], nested: { deep: [1, 2] } });
      l.debug("not at INFO");
      l.info("event ignored", { stackId: "b; rm -rf / $(x) `y`", reason: 'line\nbreak \u2028 "quoted"' });
      l.info("event applied", { big: 10n });
      l.info("with an error", { error: new Error("boom", { cause: new Error("under") }), list: ["a", 1n] });
      l.info("plain", { path: ["A", "B"], n: 1.5, nan: Number.NaN, no: undefined, yes: true, none: null });
      l.info("a date", { at: new Date(0) });
    };
    const { logger, writes } = held();
    logger.hold();
    calls(logger);
    expect(writes).toEqual([]);
    logger.release();
    expect(writes).toHaveLength(1);
    const text = writes[0] ?? "";
    expect(text.endsWith("\n")).toBe(true);
    const lines = text.slice(0, -1).split("\n");
    expect(lines.map(withoutTime)).toEqual(powertoolsLines(calls).map(withoutTime));
  });

  it("writes what it holds before a WARN or ERROR line, which is not held", () => {
    const spy = spyWrites();
    // Held lines land in the same sequence as the direct writes, marked as held.
    const logger = new BatchingLogger({ serviceName: SERVICE }).writeTo((text) =>
      spy.writes.push({ to: "stdout", text: `held ${text}` }),
    );
    try {
      logger.hold();
      logger.info("first");
      logger.warn("refused");
      logger.info("second");
      logger.error("failed");
      logger.release();
    } finally {
      spy.restore();
    }
    const seen = spy.writes.map((w) => {
      const held = w.text.startsWith("held ");
      const line = held ? w.text.slice("held ".length) : w.text;
      return `${held ? "held" : w.to} ${JSON.parse(line).message}`;
    });
    expect(seen).toEqual(["held first", "stderr refused", "held second", "stderr failed"]);
  });

  it("writes a held line after HOLD_MS even when the batch never ends", () => {
    vi.useFakeTimers();
    const { logger, writes } = held();
    logger.hold();
    logger.info("stuck batch");
    vi.advanceTimersByTime(HOLD_MS - 1);
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0] ?? "").message).toBe("stuck batch");
  });

  it("writes at once when nothing holds, and only after the last of overlapping holds ends", () => {
    const { logger, writes } = held();
    let unheld = 0;
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => {
      unheld++;
      return true;
    });
    try {
      logger.info("unheld");
    } finally {
      out.mockRestore();
    }
    expect(unheld).toBe(1);
    expect(writes).toEqual([]);
    logger.hold();
    logger.hold();
    logger.info("one");
    logger.release();
    expect(writes).toEqual([]);
    logger.info("two");
    logger.release();
    expect(writes).toHaveLength(1);
    logger.release(); // one too many: harmless
    expect(writes).toHaveLength(1);
  });

  it("does not hold a level it would not print", () => {
    const { logger, writes } = held();
    logger.setLogLevel("WARN");
    logger.hold();
    logger.info("dropped");
    logger.release();
    expect(writes).toEqual([]);
  });

  it("createLogger's logger can hold; a plain Powertools logger a caller passes cannot", () => {
    expect(canHold(createLogger())).toBe(true);
    expect(canHold(new Logger())).toBe(false);
    expect(canHold(createLogger().createChild())).toBe(true);
  });
});
