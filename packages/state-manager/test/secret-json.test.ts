// Issue 12 item 7: a connection secret that is not JSON is reported without quoting it. The error
// used to carry JSON.parse's SyntaxError as its cause, whose message quotes the text (the password),
// and the Lambda runtime prints an error's causes.
import { inspect } from "node:util";
import { urlFromSecret } from "@stackseam/state-manager";
import { describe, expect, it } from "vitest";

describe("a connection secret that is not JSON", () => {
  it("is refused saying where and what, with nothing of the secret in the error or its causes", () => {
    const text = '{"username": "app", "password": hunter2-s3cr3t, "host": "db"}';
    let thrown: unknown;
    try {
      urlFromSecret("stackseam/db", text);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({
      message: "secret stackseam/db is not JSON (malformed JSON at position 32: unexpected token)",
    });
    expect(inspect(thrown, { depth: 10 })).not.toContain("hunter2");
  });
});
