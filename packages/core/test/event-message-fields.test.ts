import { describe, expect, it } from "vitest";
import { malformedJsonReason, parseEventMessage, uncarriableReason } from "../src/index.js";

// docs/messages.md: what an event message carries into the engine, and how a body the queue or
// the database cannot carry is refused without quoting it.

describe("fields an event message carries", () => {
  it("a TASK_COMPLETED carries its outputs, as a copy", () => {
    const body = {
      stackId: "s1",
      event: "TASK_COMPLETED",
      task: "network",
      token: "tk",
      outputs: { vpc_id: { value: "vpc-1", sensitive: false }, password: { sensitive: true } },
    };
    const parsed = parseEventMessage(JSON.stringify(body), "m-1");
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.event).toEqual({
      name: "TASK_COMPLETED",
      key: "m-1",
      stackId: "s1",
      task: "network",
      token: "tk",
      outputs: body.outputs,
    });
    expect(parsed.event.outputs).not.toBe(parsed.message.outputs);
  });

  it("an EXTEND_TTL carries its ttl", () => {
    const parsed = parseEventMessage(
      JSON.stringify({ stackId: "s1", event: "EXTEND_TTL", ttl: "3d" }),
      "m-2",
    );
    expect(parsed).toMatchObject({ ok: true, event: { name: "EXTEND_TTL", ttl: "3d", key: "m-2" } });
  });
});

describe("bodies that cannot be carried", () => {
  it("a NUL in a key of the message itself is refused, naming the message", () => {
    const body = '{"stackId":"s1","event":"X","a\\u0000b":1}';
    expect(parseEventMessage(body, "m")).toEqual({
      ok: false,
      reason: "the message: a key contains a character that SQS or Postgres cannot carry",
      stackId: "s1",
    });
  });

  it("without a usable stack id the refusal names no stack", () => {
    const body = '{"stackId":"bad id","event":"X","description":"a\\u0000b"}';
    expect(parseEventMessage(body, "m")).toEqual({
      ok: false,
      reason:
        "description: contains a character that SQS or Postgres cannot carry (NUL, an unpaired surrogate, U+FFFE or U+FFFF, or a control character)",
    });
  });

  it("a bare string that cannot be carried is named as the message", () => {
    expect(uncarriableReason("a\u0000b")).toBe(
      "the message: contains a character that SQS or Postgres cannot carry (NUL, an unpaired surrogate, U+FFFE or U+FFFF, or a control character)",
    );
  });

  it("a body cut after a backslash inside a string is an unterminated string at its end", () => {
    const body = '{"event":"X\\';
    expect(malformedJsonReason(body)).toBe(`malformed JSON at position ${body.length}: unterminated string`);
    expect(parseEventMessage(body, "m")).toEqual({
      ok: false,
      reason: `malformed JSON at position ${body.length}: unterminated string`,
    });
  });

  it("a body cut inside a \\u escape is an unterminated string at its end", () => {
    const body = '{"event":"\\u12';
    expect(malformedJsonReason(body)).toBe(`malformed JSON at position ${body.length}: unterminated string`);
  });
});
