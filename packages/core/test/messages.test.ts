import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_DESCRIPTION_LENGTH,
  parseEventMessage,
  parseTaskMessage,
  parseTaskReport,
  taskReport,
  validateMetadata,
} from "../src/index.js";

const STACK_ID_RULE =
  "is not a valid stack id: use letters, digits, dots, underscores and dashes, starting with a letter or digit (at most 128 characters)";
const NESTED = "nested values are not allowed: metadata values must be strings, numbers or booleans";

describe("parseEventMessage", () => {
  it("accepts the documented event and turns it into an engine event", () => {
    const body = JSON.stringify({
      stackId: "feature-123",
      event: "LAUNCH",
      machine: "qa-env",
      metadata: { apiImageTag: "e724e90", replicas: 2, public: false },
    });
    expect(parseEventMessage(body, "sqs-1")).toEqual({
      ok: true,
      event: {
        name: "LAUNCH",
        key: "sqs-1",
        stackId: "feature-123",
        machine: "qa-env",
        metadata: { apiImageTag: "e724e90", replicas: 2, public: false },
      },
      message: JSON.parse(body),
    });
  });

  it("uses eventId as the idempotency key when given", () => {
    const result = parseEventMessage('{"stackId":"a","event":"TOUCH","eventId":"ci-run-42"}', "sqs-1");
    expect(result.ok && result.event.key).toBe("ci-run-42");
  });

  it("carries report fields", () => {
    const body = '{"stackId":"a","event":"TASK_ERROR","task":"apply","token":"t1","description":"exit 1"}';
    expect(parseEventMessage(body, "k")).toMatchObject({
      ok: true,
      event: { name: "TASK_ERROR", task: "apply", token: "t1", description: "exit 1" },
    });
  });

  it("refuses malformed JSON saying where and what, without quoting the body", () => {
    expect(parseEventMessage('{"stackId": "a", "event": "LAUNCH",', "k")).toEqual({
      ok: false,
      reason: "malformed JSON at position 35: unexpected end of input",
    });
    expect(parseEventMessage("", "k")).toEqual({
      ok: false,
      reason: "malformed JSON at position 0: unexpected end of input",
    });
  });

  it("refuses JSON that is not an object", () => {
    expect(parseEventMessage("[1,2]", "k")).toEqual({
      ok: false,
      reason: "an event message must be a JSON object, got an array",
    });
    expect(parseEventMessage("null", "k")).toEqual({
      ok: false,
      reason: "an event message must be a JSON object, got null",
    });
    expect(parseEventMessage('"LAUNCH"', "k")).toEqual({
      ok: false,
      reason: "an event message must be a JSON object, got a string",
    });
  });

  it("refuses nested metadata values, returning the stack id for history", () => {
    const body = '{"stackId":"a","event":"LAUNCH","metadata":{"foo":{"bar":1},"list":[1],"n":null}}';
    expect(parseEventMessage(body, "k")).toEqual({
      ok: false,
      stackId: "a",
      reason: `metadata.foo: ${NESTED}; metadata.list: ${NESTED}`,
    });
  });

  it("takes null as a metadata value: it removes the key when merged", () => {
    const parsed = parseEventMessage(
      '{"stackId":"a","event":"TOUCH","metadata":{"old":null,"tag":"v2"}}',
      "k",
    );
    expect(parsed.ok && parsed.event.metadata).toEqual({ old: null, tag: "v2" });
  });

  it("refuses a 300 KB metadata value, saying the limit", () => {
    const body = JSON.stringify({ stackId: "a", event: "LAUNCH", metadata: { big: "x".repeat(300 * 1024) } });
    expect(parseEventMessage(body, "k")).toEqual({
      ok: false,
      stackId: "a",
      reason: "metadata.big: value is 307200 characters long; the limit is 16384 characters",
    });
  });

  it("refuses __proto__ keys without polluting anything", () => {
    const body =
      '{"stackId":"a","event":"LAUNCH","__proto__":{"polluted":true},"metadata":{"__proto__":"x"}}';
    const result = parseEventMessage(body, "k");
    expect(result).toEqual({
      ok: false,
      stackId: "a",
      reason:
        '__proto__: unknown key "__proto__" (allowed keys: stackId, event, action, machine, metadata, eventId, task, token, description, outputs, ttl); metadata.__proto__: "__proto__" is not allowed as a key',
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ["quotes", 'a"b'],
    ["SQL", "a'; DROP TABLE stacks; --"],
    ["emoji", "🚀"],
    ["empty", ""],
    ["too long", "a".repeat(129)],
    ["path", "../x"],
  ])("refuses a stack id with %s, and does not hand it back", (_, stackId) => {
    const result = parseEventMessage(JSON.stringify({ stackId, event: "LAUNCH" }), "k");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toMatch(/^stackId: "/);
    expect(result.reason).toContain(STACK_ID_RULE);
    expect(result.stackId).toBeUndefined();
  });

  it("refuses unknown fields, suggesting the closest known one", () => {
    const body = '{"stackId":"a","event":"LAUNCH","extra":1,"metdata":{}}';
    expect(parseEventMessage(body, "k")).toEqual({
      ok: false,
      stackId: "a",
      reason:
        'extra: unknown key "extra" (allowed keys: stackId, event, action, machine, metadata, eventId, task, token, description, outputs, ttl); metdata: unknown key "metdata" (did you mean "metadata"?)',
    });
  });

  it("accepts the legacy action field, alone or agreeing with event", () => {
    expect(parseEventMessage('{"stackId":"a","action":"LAUNCH"}', "k")).toMatchObject({
      ok: true,
      event: { name: "LAUNCH" },
    });
    expect(parseEventMessage('{"stackId":"a","action":"LAUNCH","event":"LAUNCH"}', "k")).toMatchObject({
      ok: true,
    });
  });

  it("refuses event and action that disagree", () => {
    expect(parseEventMessage('{"stackId":"a","action":"LAUNCH","event":"DESTROY"}', "k")).toEqual({
      ok: false,
      stackId: "a",
      reason: 'event "DESTROY" and its legacy name action "LAUNCH" disagree: send only event',
    });
  });

  it("explains missing fields", () => {
    expect(parseEventMessage('{"stackId":"a"}', "k")).toEqual({
      ok: false,
      stackId: "a",
      reason: 'missing required key "event" (or its legacy name "action")',
    });
    expect(parseEventMessage('{"event":"X"}', "k")).toEqual({
      ok: false,
      reason: 'missing required key "stackId"',
    });
    expect(parseEventMessage('{"stackId":"a","event":"TASK_COMPLETED"}', "k")).toEqual({
      ok: false,
      stackId: "a",
      reason: 'missing required key "task"; missing required key "token"',
    });
  });

  it("explains bad names, types and reserved metadata keys", () => {
    const body = JSON.stringify({
      stackId: 5,
      event: "launch now",
      machine: "../etc",
      metadata: { stack_id: "x", "1a": 2 },
    });
    expect(parseEventMessage(body, "k")).toEqual({
      ok: false,
      reason: [
        "stackId: expected a string, got the number 5",
        'event: "launch now" is not a valid event name: use upper-case letters, digits, underscores and dashes (like LAUNCH-NOW)',
        'machine: "../etc" is not a valid machine name: use letters, digits, dots, underscores and dashes, starting with a letter or digit (at most 128 characters)',
        'metadata.stack_id: "stack_id" is reserved: the engine passes the stack id to tasks as stack_id itself',
        'metadata.1a: "1a" is not a valid metadata key: use letters, digits, underscores and dashes, starting with a letter (at most 128 characters), because it becomes a Terraform variable name',
      ].join("; "),
    });
  });

  it("truncates hostile values quoted in reasons", () => {
    const result = parseEventMessage(JSON.stringify({ stackId: "a", event: "x".repeat(10_000) }), "k");
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason.length).toBeLessThan(300);
  });
});

describe("parseTaskMessage and parseTaskReport", () => {
  const message = {
    stackId: "s1",
    machine: "qa-env",
    state: "PROVISION",
    task: "apply",
    executor: "terraform",
    config: { action: "apply" },
    metadata: { tag: "v1" },
    token: "t1",
    attempt: 1,
    dispatchedAt: "2025-01-01T00:00:00.000Z",
  };

  it("accepts a task message as a string or an object", () => {
    expect(parseTaskMessage(JSON.stringify(message))).toEqual({ ok: true, message });
    expect(parseTaskMessage(message)).toEqual({ ok: true, message });
  });

  it("lists everything missing from a task message", () => {
    expect(parseTaskMessage({ stackId: "a", attempt: 0 })).toEqual({
      ok: false,
      stackId: "a",
      reason: ["machine", "state", "task", "executor", "config", "metadata", "token"]
        .map((k) => `missing required key "${k}"`)
        .concat(["attempt: must be at least 1, got 0"])
        .join("; "),
    });
  });

  it("requires a description on TASK_ERROR reports", () => {
    expect(parseTaskReport('{"stackId":"a","event":"TASK_ERROR","task":"x","token":"t"}')).toEqual({
      ok: false,
      stackId: "a",
      reason: 'missing required key "description"',
    });
    expect(parseTaskReport({ stackId: "a", event: "TASK_COMPLETED", task: "x", token: "t" })).toEqual({
      ok: true,
      report: { stackId: "a", event: "TASK_COMPLETED", task: "x", token: "t" },
    });
  });

  it("taskReport builds reports that parse, keeping the tail of long descriptions", () => {
    const ok = taskReport(message, { ok: true });
    expect(ok).toEqual({ stackId: "s1", task: "apply", token: "t1", event: "TASK_COMPLETED" });
    const long = `${"noise\n".repeat(5000)}Error: the real cause`;
    const failed = taskReport(message, { ok: false, description: long });
    expect(failed.description!.length).toBe(MAX_DESCRIPTION_LENGTH);
    expect(failed.description!.endsWith("Error: the real cause")).toBe(true);
    expect(parseTaskReport(failed).ok).toBe(true);
    expect(parseEventMessage(JSON.stringify(failed), "k").ok).toBe(true);
  });
});

describe("validateMetadata", () => {
  it("accepts flat scalars", () => {
    expect(validateMetadata({ a: "x", b: 1, c: true })).toEqual({
      ok: true,
      metadata: { a: "x", b: 1, c: true },
    });
  });

  it("explains each problem", () => {
    expect(validateMetadata({ a: { b: 1 }, "x y": 1 })).toEqual({
      ok: false,
      reason: `metadata.a: ${NESTED}; metadata["x y"]: "x y" is not a valid metadata key: use letters, digits, underscores and dashes, starting with a letter (at most 128 characters), because it becomes a Terraform variable name`,
    });
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]));
    expect(validateMetadata(many)).toEqual({ ok: false, reason: "metadata: has 101 keys; the limit is 100" });
  });
});

describe("hostile input in general", () => {
  const field = fc.constantFrom(
    "stackId",
    "event",
    "action",
    "machine",
    "metadata",
    "eventId",
    "task",
    "token",
    "description",
    "__proto__",
    "x",
  );
  const message = fc.dictionary(field, fc.jsonValue({ maxDepth: 2 }));
  it("never throws and always explains a refusal in words", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          message.map((m) => JSON.stringify(m)),
          fc.string(),
        ),
        (body) => {
          const result = parseEventMessage(body, "k");
          if (result.ok) {
            expect(result.event.stackId).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
            return;
          }
          expect(result.reason).not.toBe("");
          expect(result.reason).not.toMatch(/must match|must NOT|must have|must be equal|must pass/);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
