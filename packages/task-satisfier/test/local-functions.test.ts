import { S3Client } from "@aws-sdk/client-s3";
import { createTaskSatisfier, localLambdaInvoker } from "@stackseam/task-satisfier";
import { describe, expect, it } from "vitest";
import { deadlineIn, FUNCTIONS_DIR, farDeadline, lambdaTask, silentLogger } from "./support.js";

const satisfier = () =>
  createTaskSatisfier({
    s3: new S3Client({ region: "us-east-1" }),
    invoker: localLambdaInvoker(FUNCTIONS_DIR),
    deadlineMarginMs: 1000,
    logger: silentLogger(),
  });

describe("local task functions (dev, task run --functions)", () => {
  it("stop waiting for a handler that never answers at the deadline (issue 12 item 7)", async () => {
    const report = await satisfier().runTask(lambdaTask({ name: "hangs" }), deadlineIn(2500));
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toMatch(
      /^Lambda function hangs did not answer before the Lambda deadline \(gave up after 1\.\d s; it may still be running\)$/,
    );
  });

  it("stop waiting when the runner is stopped", async () => {
    const controller = new AbortController();
    const running = satisfier().runTask(lambdaTask({ name: "hangs" }), farDeadline, {
      signal: controller.signal,
    });
    controller.abort(new Error("the runner received SIGTERM"));
    const report = await running;
    expect(report.description).toBe(
      "Lambda function hangs: stopped waiting (Error: the runner received SIGTERM); it may still be running",
    );
  });

  it("report the outputs a function returns, and receive the message's inputs (issue 14 item 4)", async () => {
    const report = await satisfier().runTask(
      lambdaTask({ name: "with-outputs" }, { inputs: { vpc_id: "vpc-9" } }),
      farDeadline,
    );
    expect(report).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "notify",
      token: "tok-1",
      outputs: {
        url: { value: "https://feature-123.preview.example.com", sensitive: false },
        replicas: { value: 2, sensitive: false },
        inputs: { value: { vpc_id: "vpc-9" }, sensitive: false },
      },
    });
  });

  it("a result without outputs reports none", async () => {
    const report = await satisfier().runTask(lambdaTask({ name: "echo" }), farDeadline);
    expect(report).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "notify",
      token: "tok-1",
    });
  });
});
