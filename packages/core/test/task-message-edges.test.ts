import { describe, expect, it } from "vitest";
import {
  buildTaskMessage,
  MAX_DESCRIPTION_LENGTH,
  MAX_TASK_MESSAGE_BYTES,
  MachineMismatchError,
  newStack,
  type Stack,
  taskMessage,
  taskReport,
} from "../src/index.js";
import { decide, ev, fakeDeps, machineFrom } from "./support.js";

// The task message a state's task is sent, and the report it sends back (docs/spec-reference.md,
// "Inputs" and the 256 KiB SQS limit; schemas/task-report.schema.json for the description).

const SPEC = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: NET}]
  NET:
    tasks: [network]
    on:
      NEXT: [{action: advance, state: APP}]
  APP:
    tasks: [app]
    on:
      NEXT: [{action: advance, state: DONE}]
  DONE: {terminal: true}
tasks:
  network: {executor: lambda, config: {name: net}}
  app:
    executor: lambda
    config: {name: app}
    inputs: {a: network.blob, b: network.blob, c: network.blob, d: network.blob, e: network.blob}
`;
const machine = machineFrom(SPEC);
const now = new Date("2026-01-01T00:00:00Z");
const dispatch = { task: "app", token: "tk", attempt: 1 };

function inApp(outputs: Stack["outputs"]): Stack {
  const stack = { ...newStack("s1", machine, { now: () => now }), state: "APP" };
  return outputs === undefined ? stack : { ...stack, outputs };
}

/** The APP task's message when the network task's `blob` output is `blob` (five inputs use it). */
const withBlob = (blob: string) =>
  buildTaskMessage(machine, inApp({ network: { blob: { value: blob, sensitive: false } } }), dispatch, now);

describe("a task's inputs", () => {
  it("from a task that reported no outputs at all: says so", () => {
    expect(buildTaskMessage(machine, inApp({}), dispatch, now)).toEqual({
      ok: false,
      fatal: false,
      reason: "input a: task network has no output blob (it has reported no outputs)",
    });
  });

  it("from a task that reported an empty set of outputs: names only what is missing", () => {
    expect(buildTaskMessage(machine, inApp({ network: {} }), dispatch, now)).toEqual({
      ok: false,
      fatal: false,
      reason: "input a: task network has no output blob",
    });
  });

  it("a message over the SQS limit is refused for this dispatch only, saying how to recover", () => {
    // One 60,000-character output used by five inputs: 300,000 bytes of inputs alone.
    const blob = "x".repeat(60_000);
    const built = withBlob(blob);
    expect(built.ok).toBe(false);
    if (built.ok) return;
    expect(built.fatal).toBe(false);
    const match =
      /^the task message for app would be (\d+) bytes, over the SQS limit of 262144; send less metadata \(remove keys by sending them with null\), then RETRY_FAILED_TASKS$/.exec(
        built.reason,
      );
    expect(match).not.toBeNull();
    expect(Number(match?.[1])).toBeGreaterThan(5 * 60_000);
    expect(MAX_TASK_MESSAGE_BYTES).toBe(256 * 1024);
  });

  it("a message just under the limit is sent", () => {
    const blob = "x".repeat(40_000);
    const built = withBlob(blob);
    expect(built.ok).toBe(true);
  });
});

describe("taskMessage, for callers outside a transition", () => {
  it("refuses a stack of another machine", () => {
    const other = machineFrom(SPEC, "other");
    expect(() => taskMessage(other, inApp({}), dispatch, now)).toThrow(MachineMismatchError);
    expect(() => taskMessage(other, inApp({}), dispatch, now)).toThrow("stack s1 runs machine m, not other");
  });
});

describe("a task report's description", () => {
  const message = { stackId: "s1", task: "app", token: "tk" };

  it("is kept whole up to the limit", () => {
    const text = "e".repeat(MAX_DESCRIPTION_LENGTH);
    expect(taskReport(message, { ok: false, description: text }).description).toBe(text);
  });

  it("past the limit keeps its tail, where the error usually is, after an ellipsis", () => {
    const text = `${"start ".repeat(5000)}Error: quota exceeded`;
    const description = taskReport(message, { ok: false, description: text }).description!;
    expect([...description]).toHaveLength(MAX_DESCRIPTION_LENGTH);
    expect(description.startsWith("…")).toBe(true);
    expect(description.endsWith("Error: quota exceeded")).toBe(true);
    expect(text.endsWith(description.slice(1))).toBe(true);
  });
});

describe("a state whose tasks cannot all be sent", () => {
  it("fails only the task whose message cannot be built; the others are dispatched", () => {
    const text = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: NET}]
  NET:
    tasks: [network]
    on:
      NEXT: [{action: advance, state: APP}]
  APP:
    tasks: [app, docs]
    on:
      NEXT: [{action: advance, state: DONE}]
  DONE: {terminal: true}
tasks:
  network: {executor: lambda, config: {name: net}}
  app: {executor: lambda, config: {name: app}, inputs: {vpc: network.vpc_id}}
  docs: {executor: lambda, config: {name: docs}}
`;
    const both = machineFrom(text);
    const deps = fakeDeps();
    const net = decide(both, null, ev("LAUNCH", { machine: "m" }), deps);
    if (net.outcome !== "applied") throw new Error(net.reason);
    const token = net.stack!.tasks[0]!.token;
    // network completes without reporting any output.
    const d = decide(both, net.stack, ev("TASK_COMPLETED", { task: "network", token }), deps);
    if (d.outcome !== "applied") throw new Error(d.reason);
    expect(d.stack?.state).toBe("APP");
    expect(d.stack?.tasks.map((t) => [t.name, t.status, t.description])).toEqual([
      [
        "app",
        "ERROR",
        "not dispatched: input vpc: task network has no output vpc_id (it has reported no outputs)",
      ],
      ["docs", "PENDING", undefined],
    ]);
    expect(d.tasks.map((t) => t.task)).toEqual(["docs"]);
    expect(d.dispatch.map((x) => x.task)).toEqual(["docs"]);
  });
});

describe("the SQS limit counts UTF-8 bytes, not characters", () => {
  // "€" is one UTF-16 unit and three bytes of UTF-8: a message whose characters would fit in
  // 262,144 but whose bytes do not is refused (a shortcut that counted too few bytes per
  // character would send it).
  it("refuses 100,000 three-byte characters of inputs (300,000 bytes)", () => {
    const blob = "€".repeat(20_000);
    const built = withBlob(blob);
    expect(built.ok).toBe(false);
    if (built.ok) return;
    const bytes = Number(/would be (\d+) bytes/.exec(built.reason)?.[1]);
    expect(bytes).toBeGreaterThan(5 * 3 * 20_000);
    expect(bytes).toBeLessThan(262_144 * 2);
  });

  it("sends a message whose characters could reach the limit but whose bytes do not", () => {
    // 125,000 characters (three times that is over the limit, so the bytes are counted): 225,000 bytes.
    const built = withBlob("€".repeat(10_000) + "x".repeat(15_000));
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.task.body.length * 3).toBeGreaterThan(MAX_TASK_MESSAGE_BYTES);
    const bytes = new TextEncoder().encode(built.task.body).length;
    expect(bytes).toBeGreaterThan(225_000);
    expect(bytes).toBeLessThan(MAX_TASK_MESSAGE_BYTES);
  });
});
