// The terminal side of `stackseam dev` (docs/local-development.md, docs/cli.md "dev"): one line per
// transition, task start and finish, refusal, fired timer and problem, from the Lambdas' records.
import { describe, expect, it } from "vitest";
import { LiveLog } from "../src/dev/live-log.js";
import { errorText } from "../src/error-text.js";

const FAILURE =
  "terraform apply failed (exit code 1)\nWarning: old provider\nError: Invalid reference\n  on main.tf";

/** A live log whose lines are collected without their time (and without colour: NO_COLOR in tests). */
function collect() {
  const lines: string[] = [];
  const log = new LiveLog((text) => {
    for (const line of text.trimEnd().split("\n")) lines.push(line.replace(/^\S+ {2}/, ""));
  });
  return { log, lines };
}

describe("the dev live log", () => {
  it("tells a stack's life: transitions with the time in the state, task starts and finishes, its removal", () => {
    const { log, lines } = collect();
    const t0 = Date.parse("2026-11-30T09:14:02.118Z");
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-1",
      event: "LAUNCH",
      from: null,
      path: ["PROVISION"],
      dispatched: ["provision-env"],
      timestamp: at(0),
    });
    log.lambdaLog({
      message: "task started",
      stackId: "feature-1",
      task: "provision-env",
      executor: "lambda",
      attempt: 1,
    });
    log.lambdaLog({
      message: "task completed",
      stackId: "feature-1",
      task: "provision-env",
      durationMs: 224,
    });
    // The report that completes the state: the move, how many tasks and how long.
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-1",
      event: "TASK_COMPLETED",
      from: "PROVISION",
      path: ["RUN"],
      timestamp: at(1254),
    });
    log.lambdaLog({
      message: "task started",
      stackId: "feature-1",
      task: "destroy-env",
      executor: "terraform",
      attempt: 2,
    });
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-1",
      event: "DESTROY",
      from: "RUN",
      path: ["TEARDOWN"],
      timestamp: at(5000),
    });
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-1",
      event: "TASK_COMPLETED",
      from: "TEARDOWN",
      path: [],
      removed: true,
      timestamp: at(5500),
    });
    expect(lines).toEqual([
      "feature-1   INIT → PROVISION  on LAUNCH",
      "feature-1   ▸ provision-env (lambda)",
      "feature-1   ✓ provision-env  224 ms",
      "feature-1   PROVISION → RUN  (1 task, 1.3 s)",
      "feature-1   ▸ destroy-env (terraform, attempt 2)",
      "feature-1   RUN → TEARDOWN  (3.7 s in RUN)  on DESTROY",
      "feature-1   TEARDOWN → removed  (500 ms in TEARDOWN)",
    ]);
  });

  it("prints refusals, ignored events and stays with their reason", () => {
    const { log, lines } = collect();
    log.lambdaLog({
      message: "event refused",
      stackId: "feature-1",
      event: "THAW",
      from: "RUN",
      reason: "state RUN does not handle THAW (it handles: DESTROY, TOUCH, FREEZE)",
    });
    log.lambdaLog({
      message: "event refused",
      stackId: "new-1",
      event: "THAW",
      from: null,
      reason: "no such stack",
    });
    log.lambdaLog({ message: "event ignored", stackId: "feature-1", event: "LAUNCH", duplicate: true });
    log.lambdaLog({
      message: "event ignored",
      stackId: "feature-1",
      event: "TASK_COMPLETED",
      reason: "stale report",
    });
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-4",
      event: "UPDATE",
      from: "PROVISION",
      path: [],
      reason:
        "UPDATE deferred in PROVISION: it is offered again when the stack enters another state (1 kept)",
    });
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-4",
      event: "EXTEND_TTL",
      from: "RUN",
      path: [],
      reason: "TTL set to 3d",
    });
    log.lambdaLog({ message: "event applied", stackId: "feature-4", event: "TOUCH", from: "RUN", path: [] });
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-4",
      event: "RETRY_FAILED_TASKS",
      from: "PROVISION",
      path: [],
      dispatched: ["provision-env"],
    });
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-4",
      event: "RETRY_PENDING_TASKS",
      from: "PROVISION",
      path: [],
      dispatched: [],
    });
    // A report that does not finish its state is told by the task line alone.
    log.lambdaLog({
      message: "event applied",
      stackId: "feature-4",
      event: "TASK_COMPLETED",
      from: "PROVISION",
      path: [],
    });
    expect(lines).toEqual([
      "feature-1   refused THAW in RUN: state RUN does not handle THAW (it handles: DESTROY, TOUCH, FREEZE)",
      "new-1       refused THAW in (new stack): no such stack",
      "feature-1   ignored LAUNCH: duplicate delivery",
      "feature-1   ignored TASK_COMPLETED: stale report",
      "feature-4   UPDATE deferred in PROVISION: it is offered again when the stack enters another state (1 kept)",
      "feature-4   EXTEND_TTL in RUN: TTL set to 3d",
      "feature-4   TOUCH in RUN",
      "feature-4   RETRY_FAILED_TASKS in PROVISION: re-sent provision-env",
      "feature-4   RETRY_PENDING_TASKS in PROVISION: nothing to re-send",
    ]);
  });

  it("prints a failed task once, from its report, with how long it ran and its first Error: line", () => {
    const { log, lines } = collect();
    log.lambdaLog({
      message: "task failed",
      stackId: "feature-2",
      task: "provision-env",
      token: "tok-1",
      durationMs: 3100,
    });
    expect(lines).toEqual([]);
    const report = JSON.stringify({
      stackId: "feature-2",
      event: "TASK_ERROR",
      task: "provision-env",
      token: "tok-1",
      description: FAILURE,
    });
    log.reports([report, "not json", JSON.stringify({ event: "TASK_COMPLETED", token: "tok-9" })]);
    // Delivered again: printed once.
    log.reports([report]);
    // A failure without a token in the log is printed at once.
    log.lambdaLog({ message: "task failed", stackId: "feature-3", task: "apply" });
    expect(lines).toEqual([
      "feature-2   ✗ provision-env  3.1 s: terraform apply failed (exit code 1): Error: Invalid reference",
      "feature-3   ✗ apply",
    ]);
  });

  it("prints fired timers and schedules, with the move a timer made when the state is known", () => {
    const { log, lines } = collect();
    log.lambdaLog({
      message: "event applied",
      stackId: "ttl-1",
      event: "LAUNCH",
      from: "INIT",
      path: ["RUN"],
      timestamp: new Date().toISOString(),
    });
    log.lambdaLog({
      message: "timer fired",
      stackId: "ttl-1",
      timer: "ttl-warning",
      to: "RUN",
      note: "TTL warning: DESTROY now, idle for 3s",
    });
    log.lambdaLog({
      message: "timer fired",
      stackId: "ttl-1",
      timer: "ttl",
      to: "TEARDOWN",
      note: "TTL idle for 3s: DESTROY",
    });
    log.lambdaLog({ message: "timer fired", timer: "retry:apply" });
    log.lambdaLog({
      message: "schedule fired",
      machine: "qa-env",
      schedule: "freeze-evenings",
      occurrence: "2026-11-30T18:00:00.000Z",
    });
    log.lambdaLog({ message: "schedule fired", machine: "qa-env", schedule: "thaw" });
    expect(lines.slice(1)).toEqual([
      "ttl-1       ⏱ ttl-warning  TTL warning: DESTROY now, idle for 3s",
      "ttl-1       ⏱ ttl  RUN → TEARDOWN  TTL idle for 3s: DESTROY",
      "(no stack id)  ⏱ retry:apply",
      "⏰ schedule qa-env/freeze-evenings fired (occurrence 2026-11-30T18:00:00.000Z)",
      "⏰ schedule qa-env/thaw fired",
    ]);
  });

  it("prints ERROR records with their error's first line; other records stay in dev.log", () => {
    const { log, lines } = collect();
    log.lambdaLog({
      level: "ERROR",
      message: "record failed; returned to the queue for retry",
      stackId: "s-1",
      error: { message: "connection reset\nat socket" },
    });
    log.lambdaLog({
      level: "CRITICAL",
      message: "configuration error",
      reason: "MACHINE_SPEC_DIR is not set",
    });
    log.lambdaLog({ level: "ERROR", message: "plain failure" });
    log.lambdaLog({ level: "INFO", message: "machine spec loaded" });
    log.info("ready");
    log.warn("careful");
    log.error("broken");
    expect(lines).toEqual([
      "s-1         record failed; returned to the queue for retry: connection reset",
      "configuration error: MACHINE_SPEC_DIR is not set",
      "plain failure",
      "ready",
      "careful",
      "broken",
    ]);
  });

  it("keeps the terminal safe: control characters in records are shown, not obeyed", () => {
    const { log, lines } = collect();
    log.lambdaLog({
      message: "event refused",
      stackId: "x",
      event: "GO",
      from: "A",
      reason: "bad \u001b[2J clear",
    });
    expect(lines[0]).not.toContain("\u001b");
  });
});

describe("errorText", () => {
  it("joins an error's message with its causes', without repeating one, and stops at a cycle", () => {
    const root = new Error("Region is missing");
    const wrapper = new Error("invoking Lambda function x failed transiently", { cause: root });
    expect(errorText(wrapper)).toBe("invoking Lambda function x failed transiently: Region is missing");
    const same = new Error("Region is missing", { cause: new Error("Region is missing") });
    expect(errorText(same)).toBe("Region is missing");
    const a = new Error("a") as Error & { cause?: unknown };
    const b = new Error("b", { cause: a });
    a.cause = b;
    expect(errorText(a)).toBe("a: b");
    expect(errorText(new Error("outer", { cause: "a string cause" }))).toBe("outer: a string cause");
    const unnamed = new TypeError("");
    expect(errorText(unnamed)).toBe("TypeError");
    expect(errorText("just text")).toBe("just text");
    expect(errorText(new Error("bell \u0007 here"))).not.toContain("\u0007");
  });
});
