// The Lambda Invoke API at its edges: error payloads that are not the usual Node/Python shape, a
// qualifier, a function that returns nothing, a call stopped from outside, and a client that throws
// something that is not an Error.
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from "@aws-sdk/client-lambda";
import { awsLambdaInvoker, functionErrorFrom, TaskSatisfierError } from "@stackseam/task-satisfier";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";

const lambdaMock = mockClient(LambdaClient);
afterEach(() => {
  lambdaMock.reset();
});
const encode = (value: unknown) =>
  new TextEncoder().encode(JSON.stringify(value)) as unknown as NonNullable<InvokeCommandOutput["Payload"]>;

describe("an error payload in another shape", () => {
  it("keeps the whole object as the message when it has no errorMessage, and the FunctionError as type", () => {
    expect(functionErrorFrom({ code: 42, reason: "quota" }, "Unhandled")).toEqual({
      ok: false,
      errorType: "Unhandled",
      errorMessage: '{"code":42,"reason":"quota"}',
    });
  });

  it("turns trace entries that are not strings into JSON lines", () => {
    expect(
      functionErrorFrom(
        { errorType: "E", errorMessage: "m", trace: ["at a", { file: "b.py", line: 3 }] },
        "Handled",
      ),
    ).toEqual({ ok: false, errorType: "E", errorMessage: "m", trace: ["at a", '{"file":"b.py","line":3}'] });
  });

  it("takes a bare string as the message", () => {
    expect(functionErrorFrom("out of memory", "Unhandled")).toEqual({
      ok: false,
      errorType: "Unhandled",
      errorMessage: "out of memory",
    });
  });
});

describe("the Invoke call", () => {
  const client = () => new LambdaClient({ region: "us-east-1" });

  it("passes the qualifier, and reports a function that returns nothing as success without payload", async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200 });
    expect(await awsLambdaInvoker(client()).invoke("notify", { a: 1 }, "live")).toEqual({ ok: true });
    expect(lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input).toMatchObject({
      FunctionName: "notify",
      Qualifier: "live",
      InvocationType: "RequestResponse",
    });
  });

  it("gives back the caller's own abort instead of classifying it", async () => {
    const controller = new AbortController();
    const abort = Object.assign(new Error("Request aborted"), { name: "AbortError" });
    lambdaMock.on(InvokeCommand).callsFake(() => {
      controller.abort();
      throw abort;
    });
    await expect(
      awsLambdaInvoker(client()).invoke("notify", {}, undefined, { signal: controller.signal }),
    ).rejects.toBe(abort);
  });

  it("names a failure that is not an Error", async () => {
    lambdaMock.on(InvokeCommand).callsFake(() => {
      throw "socket closed";
    });
    const err = await awsLambdaInvoker(client())
      .invoke("notify", {}, undefined)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskSatisfierError);
    expect(err).toMatchObject({
      code: "INVOKE_FAILED",
      message: "invoking Lambda function notify failed: Error: socket closed",
    });
  });

  it("returns the function's JSON result as the payload", async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode({ url: "https://x" }) });
    expect(await awsLambdaInvoker(client()).invoke("notify", {}, undefined)).toEqual({
      ok: true,
      payload: { url: "https://x" },
    });
  });
});
