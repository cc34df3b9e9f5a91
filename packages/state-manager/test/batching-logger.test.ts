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

  describe("infoLine: an INFO line built from the batch's template", () => {
    const FIELDS: Record<string, unknown>[] = [
      {
        stackId: "a",
        event: "LAUNCH",
        machine: "qa-env",
        eventKey: "k-1",
        messageId: "m-1",
        from: null,
        to: "PROVISION",
        outcome: "applied",
        path: ["PROVISION"],
        dispatched: ["provision-env"],
      },
      {
        stackId: "b; rm -rf / $(x) `y`",
        reason: 'line\nbreak \u2028 "quoted" €😀 \ud800',
        empty: "",
        gone: undefined,
      },
      { n: 1.5, nan: Number.NaN, yes: true, no: false, zero: 0, none: null, list: [1, "two", null, false] },
      { path: [], dispatched: [], removed: true, duplicate: true },
      { team: "fields win over a persistent key", stackId: "c" },
      { service: "a reserved key: Powertools drops it with a warning" },
      { nested: { deep: [1, 2] }, stackId: "d" },
      { big: 10n },
      { stackId: "e", 7: "an index-like key goes first in Powertools' line", "2x": "not an index" },
      { stackId: "f", fn: () => 1, sym: Symbol("s"), list: [() => 1, undefined] },
      { stackId: "g", tenant_id: "an empty key of Powertools' own keeps its place", cold_start: true },
      { xray_trace_id: "x", function_name: "f", gone: "a persistent key that was empty", blank: "too" },
      { constructor: "dropped by Powertools' merge", stackId: "h" },
    ];
    const CONTEXT = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: "stackseam-state-manager",
      functionVersion: "$LATEST",
      invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:stackseam-state-manager",
      memoryLimitInMB: "512",
      awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
      logGroupName: "/aws/lambda/stackseam-state-manager",
      logStreamName: "2026/12/01/[$LATEST]abc",
      getRemainingTimeInMillis: () => 30_000,
      done() {},
      fail() {},
      succeed() {},
    };

    type Options = ConstructorParameters<typeof Logger>[0];
    interface Api {
      logger: Logger;
      log(message: string, fields: Record<string, unknown>): void;
      hold(): void;
      release(): void;
    }

    /**
     * Every line a scenario wrote, in order, each with its stream and the timestamp replaced: by a
     * BatchingLogger logging with infoLine ("fast") or info() ("info"), or by stock Powertools
     * ("stock": the reference, which holds nothing).
     */
    function run(scenario: (api: Api) => void, mode: "fast" | "info" | "stock", options: Options = {}) {
      const spy = spyWrites();
      const held =
        mode === "stock"
          ? null
          : new BatchingLogger({ serviceName: SERVICE, ...options }).writeTo((text) =>
              spy.writes.push({ to: "stdout", text }),
            );
      const logger = held ?? new Logger({ serviceName: SERVICE, ...options });
      const probe = vi.spyOn(
        logger as unknown as { createAndPopulateLogItem: () => unknown },
        "createAndPopulateLogItem",
      );
      try {
        scenario({
          logger,
          log: (m, f) => (mode === "fast" && held ? held.infoLine(m, f) : logger.info(m, f)),
          hold: () => held?.hold(),
          release: () => held?.release(),
        });
      } finally {
        spy.restore();
      }
      const timestamps: string[] = [];
      const lines = spy.writes.flatMap((w) =>
        w.text
          .split("\n")
          .filter(Boolean)
          .map((line) =>
            `${w.to}: ${line}`.replace(/"timestamp":"([^"]*)"/g, (_, t: string) => {
              timestamps.push(t);
              return '"timestamp":"T"';
            }),
          ),
      );
      return { text: lines.join("\n"), timestamps, built: probe.mock.calls.length };
    }

    /** The scenario prints with infoLine (and with info()) what stock Powertools prints, but the times. */
    function same(scenario: (api: Api) => void, options: Options = {}) {
      const fast = run(scenario, "fast", options);
      const reference = run(scenario, "stock", options);
      expect(fast.text).toBe(reference.text);
      expect(run(scenario, "info", options).text).toBe(reference.text);
      expect(fast.text).not.toBe("");
      for (const t of [...fast.timestamps, ...reference.timestamps])
        expect(Number.isNaN(Date.parse(t))).toBe(false);
      return { fast, reference };
    }

    const withEnv = (vars: Record<string, string | undefined>, fn: () => void) => {
      const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
      for (const [k, v] of Object.entries(vars))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      try {
        fn();
      } finally {
        for (const [k, v] of Object.entries(saved))
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
      }
    };

    it("prints what info() prints, Powertools building one probe per batch instead of one item per line", () => {
      withEnv(
        { TZ: undefined, _X_AMZN_TRACE_ID: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1" },
        () => {
          const { fast, reference } = same(({ logger, log, hold, release }) => {
            logger.addContext(CONTEXT);
            logger.appendPersistentKeys({ team: "platform", build: 7 });
            hold();
            for (const f of FIELDS.slice(0, 4)) log("event applied", f);
            release();
          });
          expect(reference.built).toBe(4);
          expect(fast.built).toBe(1);
          for (const t of fast.timestamps) expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        },
      );
    });

    it("takes info() for what the template does not cover, and still prints the same", () => {
      withEnv({ TZ: ":UTC" }, () => {
        const all = ({ logger, log, hold, release }: Api) => {
          hold();
          for (const f of FIELDS) log("event applied", f);
          log("", { stackId: "an empty message" });
          release();
          logger.info("after the batch");
        };
        // Without a Lambda context or trace id, then with them and with persistent keys, one empty.
        same(all);
        withEnv({ _X_AMZN_TRACE_ID: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1" }, () =>
          same((api) => {
            api.logger.addContext(CONTEXT);
            api.logger.appendPersistentKeys({ team: "platform", gone: null, blank: "" });
            all(api);
          }),
        );
        // Options that shape lines: the order of keys, a replacer.
        same(all, { logRecordOrder: ["stackId", "level"] });
        same(all, {
          jsonReplacerFn: (key: string, value: unknown) => (key === "stackId" ? "replaced" : value),
        });
      });
    });

    it("makes the template again when what every line carries changes, and per invocation", () => {
      same(({ logger, log, hold, release }) => {
        for (const request of ["r-1", "r-2"]) {
          logger.addContext({ ...CONTEXT, awsRequestId: request });
          hold();
          log("event applied", { stackId: "a" });
          logger.appendKeys({ attempt: request });
          log("event applied", { stackId: "b" });
          logger.removeKeys(["attempt"]);
          logger.appendPersistentKeys({ owner: request });
          log("event applied", { stackId: "c" });
          logger.removePersistentKeys(["owner"]);
          logger.resetKeys();
          log("event applied", { stackId: "d" });
          logger.setPersistentLogAttributes({ legacy: request });
          log("event applied", { stackId: "e" });
          release();
        }
      });
    });

    it("in another time zone, in development mode, unheld or below its level, is info() itself", () => {
      const twoLines = ({ log, hold, release }: Api) => {
        hold();
        log("event applied", FIELDS[0] ?? {});
        log("event applied", FIELDS[1] ?? {});
        release();
      };
      withEnv({ TZ: "Europe/Berlin" }, () => {
        expect(same(twoLines).fast.built).toBe(2);
      });
      // Development mode prints through the console, which the test runner takes over: only
      // whether the lines took info() is seen here.
      withEnv({ POWERTOOLS_DEV: "true" }, () => {
        expect(run(twoLines, "fast").built).toBe(2);
      });
      same(({ log }) => log("event applied", FIELDS[0] ?? {}));
      const quiet = run(({ logger, log, hold, release }) => {
        logger.setLogLevel("WARN");
        hold();
        log("event applied", FIELDS[0] ?? {});
        release();
      }, "fast");
      expect(quiet.text).toBe("");
    });
  });
});
