// The dev live log (docs/local-development.md) fed records that lack fields: a line is still
// printed, with "?" (or nothing) where a field is missing, never "undefined" or "null"; and its
// per-token memory stays bounded however many dispatches a long session sees.
import { describe, expect, it } from "vitest";
import { LiveLog } from "../src/dev/live-log.js";

/** Lines without their time (NO_COLOR in tests, so no escape codes) and with padding collapsed. */
function collect() {
  const lines: string[] = [];
  const log = new LiveLog((text) => {
    for (const line of text.trimEnd().split("\n"))
      lines.push(line.replace(/^\S+ {2}/, "").replace(/ {2,}/g, "  "));
  });
  return { log, lines };
}

describe("the dev live log with sparse records", () => {
  it("task lines without a task, executor or duration", () => {
    const { log, lines } = collect();
    log.lambdaLog({ message: "task started", stackId: "s1" });
    log.lambdaLog({ message: "task completed", stackId: "s1" });
    log.lambdaLog({ message: "task failed", stackId: "s1" });
    expect(lines).toEqual(["s1  ▸ ? (task)", "s1  ✓ ?", "s1  ✗ ?"]);
  });

  it("a schedule and a timer with no names, and an event with no stack or event name", () => {
    const { log, lines } = collect();
    log.lambdaLog({ message: "schedule fired" });
    log.lambdaLog({ message: "timer fired", stackId: "s2" });
    log.lambdaLog({ message: "event ignored" });
    expect(lines[0]).toBe("⏰ schedule ?/? fired");
    expect(lines[1]).toBe("s2  ⏱ ?");
    expect(lines[2]).toBe("(no stack id)  ignored ?:");
    expect(lines.join("\n")).not.toMatch(/undefined|null/);
  });

  it("a refusal without a reason, a stay without a from state", () => {
    const { log, lines } = collect();
    log.lambdaLog({ message: "event refused", stackId: "s3", event: "THAW", from: "RUN" });
    log.lambdaLog({ message: "event applied", stackId: "s3", event: "TOUCH", reason: "ttl renewed" });
    log.lambdaLog({ message: "event applied", stackId: "s3", event: "TOUCH" });
    expect(lines).toEqual(["s3  refused THAW in RUN:", "s3  TOUCH in ?: ttl renewed", "s3  TOUCH in ?"]);
  });

  it("counts the tasks a state ran in the plural", () => {
    const { log, lines } = collect();
    const t0 = Date.parse("2026-11-30T09:00:00.000Z");
    log.lambdaLog({
      message: "event applied",
      stackId: "s4",
      event: "LAUNCH",
      path: ["PROVISION"],
      dispatched: ["a", "b"],
      timestamp: new Date(t0).toISOString(),
    });
    log.lambdaLog({
      message: "event applied",
      stackId: "s4",
      event: "TASK_COMPLETED",
      from: "PROVISION",
      path: ["RUN"],
      timestamp: new Date(t0 + 2500).toISOString(),
    });
    expect(lines[1]).toBe("s4  PROVISION → RUN  (2 tasks, 2.5 s)");
  });

  it("an error record without a message still prints its detail", () => {
    const { log, lines } = collect();
    log.lambdaLog({ level: "ERROR", stackId: "s5", reason: "database unreachable" });
    expect(lines).toEqual(["s5  : database unreachable"]);
  });

  it("a TASK_ERROR report with no task, no duration and no description", () => {
    const { log, lines } = collect();
    log.reports([JSON.stringify({ event: "TASK_ERROR", token: "t-1", stackId: "s6" })]);
    expect(lines).toEqual(["s6  ✗ ?"]);
  });

  it("remembers at most about 10 000 dispatches, and still prints each failure once", () => {
    const { log, lines } = collect();
    const n = 10_005;
    for (let i = 0; i < n; i++) {
      log.lambdaLog({
        message: "task failed",
        stackId: "s7",
        task: "t",
        token: `tok-${i}`,
        durationMs: 1500,
      });
    }
    const reports = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ event: "TASK_ERROR", token: `tok-${i}`, stackId: "s7", task: "t" }),
    );
    log.reports(reports);
    expect(lines).toHaveLength(n);
    // The last dispatches' durations survived the clearing; the report lines all appear once.
    expect(lines.at(-1)).toBe("s7  ✗ t  1.5 s");
    // A redelivery of a report seen after the clear is still recognised.
    log.reports([reports.at(-1) ?? ""]);
    expect(lines).toHaveLength(n);
  });
});
