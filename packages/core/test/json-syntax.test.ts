import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  jsonSyntaxProblem,
  malformedJsonReason,
  parseEventMessage,
  parseTaskMessage,
  parseTaskReport,
} from "../src/index.js";

/** JSON text with a few characters inserted or deleted, so that most of it stays almost JSON. */
const nearlyJson = fc
  .tuple(
    fc.json(),
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.nat(3),
        fc.constantFrom(
          "",
          "{",
          "}",
          "[",
          "]",
          ",",
          ":",
          '"',
          "\\",
          "\\u12",
          "-",
          ".",
          "e",
          "0",
          " ",
          "\u0001",
          "t",
          "nul",
          "\uFEFF",
        ),
      ),
      { maxLength: 3 },
    ),
  )
  .map(([json, edits]) => {
    let text = json;
    for (const [at, remove, insert] of edits) {
      const p = at % (text.length + 1);
      text = text.slice(0, p) + insert + text.slice(p + remove);
    }
    return text;
  });

/** JSON.parse's verdict: null when it accepts the text, else its message. */
function nodeVerdict(text: string): string | null {
  try {
    JSON.parse(text);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

describe("jsonSyntaxProblem", () => {
  it("agrees with JSON.parse on what is JSON, and on the position wherever Node gives one", () => {
    fc.assert(
      fc.property(fc.oneof(nearlyJson, fc.string(), fc.json()), (text) => {
        const node = nodeVerdict(text);
        const ours = jsonSyntaxProblem(text);
        expect(ours === null).toBe(node === null);
        const at = node === null ? null : /at position (\d+)/.exec(node);
        if (at) expect(ours?.position).toBe(Number(at[1]));
      }),
      { numRuns: 3000 },
    );
  });

  it("names the kind of mistake", () => {
    expect(jsonSyntaxProblem('{"stackId": "a" "event": 1}')).toEqual({
      position: 16,
      problem: "expected ',' or '}' after a property value",
    });
    expect(jsonSyntaxProblem('{"a": tru}')).toEqual({ position: 9, problem: "unexpected token" });
    expect(jsonSyntaxProblem('["a\u0001"]')).toEqual({
      position: 3,
      problem: "control character in a string (escape it)",
    });
    expect(jsonSyntaxProblem('{"a": 1} x')).toEqual({
      position: 9,
      problem: "unexpected data after the JSON value",
    });
    expect(jsonSyntaxProblem("[01]")).toEqual({ position: 2, problem: "expected ',' or ']'" });
    expect(jsonSyntaxProblem(`${"[".repeat(100_000)}${"]".repeat(100_000)}`)).toBeNull();
  });

  it("never quotes the text: a reason from a body holding a secret says where and what only", () => {
    const body = '{"stackId": "a", "password": hunter2-s3cr3t}';
    // What used to be the reason, and so reached the WARN log.
    expect(nodeVerdict(body)).toBe(`Unexpected token 'h', ..."assword": hunter2-s3"... is not valid JSON`);
    expect(malformedJsonReason(body)).toBe("malformed JSON at position 29: unexpected token");
    for (const parse of [(b: string) => parseEventMessage(b, "k"), parseTaskMessage, parseTaskReport]) {
      const result = parse(body);
      expect(result).toEqual({ ok: false, reason: malformedJsonReason(body) });
    }
    fc.assert(
      fc.property(nearlyJson, fc.stringMatching(/^[A-Za-z0-9]{12}$/), (text, secret) => {
        const body = `{"secret": "${secret}", ${text}`;
        const result = parseEventMessage(body, "k");
        if (!result.ok) expect(result.reason).not.toContain(secret);
      }),
      { numRuns: 500 },
    );
  });
});
