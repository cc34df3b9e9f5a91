import {
  InvokeCommand,
  type InvokeCommandOutput,
  LambdaClient,
  ServiceException,
  TooManyRequestsException,
} from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import {
  awsLambdaInvoker,
  createTaskSatisfier,
  localLambdaInvoker,
  TaskSatisfierError,
  TransientError,
} from "@stackseam/task-satisfier";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { farDeadline, lambdaTask, silentLogger } from "./support.js";

const lambdaMock = mockClient(LambdaClient);
// The SDK types Payload as its blob adapter; the executor only reads the bytes.
const encode = (value: unknown) =>
  new TextEncoder().encode(JSON.stringify(value)) as unknown as NonNullable<InvokeCommandOutput["Payload"]>;
const functionsDir = new URL("./fixtures/functions/", import.meta.url).pathname;

function satisfierWith(client: LambdaClient) {
  return createTaskSatisfier({
    s3: new S3Client({ region: "us-east-1" }),
    invoker: awsLambdaInvoker(client),
    logger: silentLogger(),
    deadlineMarginMs: 1000,
  });
}

afterEach(() => {
  lambdaMock.reset();
});

describe("lambda executor over the Lambda API", () => {
  it("invokes the function synchronously with {stackId, metadata, args} and reports success", async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode({ done: true }) });
    const task = lambdaTask({ name: "notify-slack", qualifier: "live", args: { channel: "#qa" } });
    const report = await satisfierWith(new LambdaClient({ region: "us-east-1" })).runTask(task, farDeadline);

    expect(report).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "notify",
      token: "tok-1",
    });
    const calls = lambdaMock.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.FunctionName).toBe("notify-slack");
    expect(input.Qualifier).toBe("live");
    expect(input.InvocationType).toBe("RequestResponse");
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({
      stackId: "feature-123",
      metadata: { apiImageTag: "e724e90" },
      args: { channel: "#qa" },
    });
  });

  it("leaves args out of the payload when the config has none", async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200 });
    await satisfierWith(new LambdaClient({ region: "us-east-1" })).runTask(
      lambdaTask({ name: "f" }),
      farDeadline,
    );
    const input = lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(input.Qualifier).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({
      stackId: "feature-123",
      metadata: { apiImageTag: "e724e90" },
    });
  });

  it("maps a FunctionError to TASK_ERROR with errorType, errorMessage and trace", async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: "Unhandled",
      Payload: encode({
        errorType: "QuotaExceeded",
        errorMessage: "no more environments today",
        trace: ["QuotaExceeded: no more environments today", "    at handler (/var/task/index.mjs:3:9)"],
      }),
    });
    const report = await satisfierWith(new LambdaClient({ region: "us-east-1" })).runTask(
      lambdaTask({ name: "quota" }),
      farDeadline,
    );
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toBe(
      "Lambda function quota failed: QuotaExceeded: no more environments today\n" +
        "QuotaExceeded: no more environments today\n    at handler (/var/task/index.mjs:3:9)",
    );
  });

  it("maps a Python-style stackTrace and an error without payload", async () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({
        FunctionError: "Unhandled",
        Payload: encode({
          errorType: "KeyError",
          errorMessage: "'x'",
          stackTrace: ['  File "h.py", line 3'],
        }),
      })
      .resolvesOnce({ FunctionError: "Unhandled" });
    const s = satisfierWith(new LambdaClient({ region: "us-east-1" }));
    const py = await s.runTask(lambdaTask({ name: "py" }), farDeadline);
    expect(py.description).toBe(`Lambda function py failed: KeyError: 'x'\n  File "h.py", line 3`);
    const bare = await s.runTask(lambdaTask({ name: "bare" }), farDeadline);
    expect(bare.description).toBe(
      "Lambda function bare failed: Unhandled: the function failed without an error payload",
    );
  });

  it("throws TransientError on throttling and 5xx so the record is retried", async () => {
    const s = satisfierWith(new LambdaClient({ region: "us-east-1", maxAttempts: 1 }));
    lambdaMock
      .on(InvokeCommand)
      .rejects(
        new TooManyRequestsException({ message: "Rate exceeded", $metadata: { httpStatusCode: 429 } }),
      );
    await expect(s.runTask(lambdaTask({ name: "f" }), farDeadline)).rejects.toBeInstanceOf(TransientError);
    lambdaMock
      .on(InvokeCommand)
      .rejects(new ServiceException({ message: "internal", $metadata: { httpStatusCode: 500 } }));
    await expect(s.runTask(lambdaTask({ name: "f" }), farDeadline)).rejects.toBeInstanceOf(TransientError);
    const network = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    lambdaMock.on(InvokeCommand).rejects(network);
    await expect(s.runTask(lambdaTask({ name: "f" }), farDeadline)).rejects.toBeInstanceOf(TransientError);
  });

  it("reports a missing function as TASK_ERROR (retrying cannot help)", async () => {
    const notFound = Object.assign(new Error("Function not found: arn:…:nope"), {
      name: "ResourceNotFoundException",
      $metadata: { httpStatusCode: 404 },
    });
    lambdaMock.on(InvokeCommand).rejects(notFound);
    const report = await satisfierWith(new LambdaClient({ region: "us-east-1" })).runTask(
      lambdaTask({ name: "nope" }),
      farDeadline,
    );
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toBe(
      "invoking Lambda function nope failed: ResourceNotFoundException: Function not found: arn:…:nope",
    );
  });

  it("does not invoke when the deadline leaves no time after the margin", async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200 });
    const report = await satisfierWith(new LambdaClient({ region: "us-east-1" })).runTask(
      lambdaTask({ name: "f" }),
      {
        remainingMs: () => 900,
      },
    );
    expect(report.description).toBe(
      "not started: only 0.9 s left before the Lambda deadline and 1.0 s are kept back (TERRAFORM_DEADLINE_MARGIN_MS); raise the function timeout",
    );
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it("reports an invalid lambda config without invoking anything", async () => {
    const report = await satisfierWith(new LambdaClient({ region: "us-east-1" })).runTask(
      lambdaTask({ args: "x" }),
      farDeadline,
    );
    expect(report.description).toBe(
      "invalid lambda config: config.name (function name or ARN) is required; config.args must be an object",
    );
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});

describe("localLambdaInvoker", () => {
  const invoker = localLambdaInvoker(functionsDir);

  it("runs <dir>/<name>.mjs and returns its JSON result", async () => {
    const result = await invoker.invoke("echo", { stackId: "s", metadata: { a: 1 } });
    expect(result).toEqual({ ok: true, payload: { received: { stackId: "s", metadata: { a: 1 } } } });
  });

  it("resolves a function ARN to its name", async () => {
    const result = await invoker.invoke("arn:aws:lambda:eu-west-1:123456789012:function:echo:live", { x: 1 });
    expect(result).toEqual({ ok: true, payload: { received: { x: 1 } } });
  });

  it("maps a thrown error like Lambda does", async () => {
    const result = await invoker.invoke("fails", { stackId: "s-9" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errorType).toBe("QuotaExceeded");
    expect(result.errorMessage).toBe("no room for s-9");
    expect(result.trace?.[0]).toBe("QuotaExceeded: no room for s-9");
    expect(result.trace?.some((line) => line.includes("fails.mjs"))).toBe(true);
  });

  it("reports a module without handler as Runtime.HandlerNotFound", async () => {
    expect(await invoker.invoke("no-handler", {})).toEqual({
      ok: false,
      errorType: "Runtime.HandlerNotFound",
      errorMessage: "no-handler does not export a handler function",
    });
  });

  it("refuses names that would leave the folder", async () => {
    for (const name of ["../support", "../../etc/passwd", "a/b", "..", ".hidden", "/abs"]) {
      await expect(invoker.invoke(name, {})).rejects.toMatchObject({ code: "INVALID_FUNCTION_NAME" });
    }
  });

  it("says which file it looked for when a function is missing", async () => {
    const err = await invoker.invoke("missing", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskSatisfierError);
    expect((err as TaskSatisfierError).code).toBe("FUNCTION_NOT_FOUND");
    expect((err as Error).message).toContain("missing.mjs");
  });

  it("drives the lambda executor end to end", async () => {
    const s = createTaskSatisfier({
      s3: new S3Client({ region: "us-east-1" }),
      invoker,
      logger: silentLogger(),
    });
    expect((await s.runTask(lambdaTask({ name: "echo" }), farDeadline)).event).toBe("TASK_COMPLETED");
    const failed = await s.runTask(lambdaTask({ name: "fails" }), farDeadline);
    expect(failed.description).toMatch(
      /^Lambda function fails failed: QuotaExceeded: no room for feature-123\nQuotaExceeded/,
    );
    const missing = await s.runTask(lambdaTask({ name: "missing" }), farDeadline);
    expect(missing.description).toMatch(/^local Lambda function missing not found/);
  });
});

describe("executors", () => {
  it("reports an unknown executor as TASK_ERROR", async () => {
    const s = createTaskSatisfier({
      s3: new S3Client({ region: "us-east-1" }),
      invoker: localLambdaInvoker(functionsDir),
      logger: silentLogger(),
    });
    const report = await s.runTask(lambdaTask({ name: "echo" }, { executor: "ansible" }), farDeadline);
    expect(report).toEqual({
      stackId: "feature-123",
      event: "TASK_ERROR",
      task: "notify",
      token: "tok-1",
      description: 'unknown executor "ansible": known executors are terraform, lambda',
    });
  });
});
