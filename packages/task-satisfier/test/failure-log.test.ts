import { Logger } from "@aws-lambda-powertools/logger";
import type { S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Executor } from "../src/executor.js";
import type { LambdaInvoker } from "../src/lambda-invoker.js";
import { createTaskSatisfier } from "../src/satisfier.js";
import { farDeadline, lambdaTask } from "./support.js";

// What Terraform prints when a plan fails: pages of warnings, then the error in its box.
const WARNINGS = Array.from(
  { length: 12 },
  (_, i) =>
    `╷\n│ Warning: Argument is deprecated (${i})\n│\n│   with aws_s3_bucket.site,\n│   on main.tf line ${10 + i}:\n│ Use the aws_s3_bucket_website_configuration resource instead.\n╵\n`,
).join("");
const DESCRIPTION = `terraform apply failed (exit code 1):\n${WARNINGS}╷\n│ Error: Invalid reference\n│\n│   on main.tf line 40:\n╵\n`;

/** Log records the satisfier's logger wrote (Powertools prints one JSON object a line). */
function captureLogs(): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  const grab = (chunk: unknown) => {
    for (const line of String(chunk).split("\n")) if (line.startsWith("{")) records.push(JSON.parse(line));
    return true;
  };
  vi.spyOn(process.stdout, "write").mockImplementation(grab);
  vi.spyOn(process.stderr, "write").mockImplementation(grab);
  return records;
}

describe("the task failed log record", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("carries the first Error: line, which the first 512 characters of a Terraform failure do not", async () => {
    expect(DESCRIPTION.indexOf("Error: Invalid reference")).toBeGreaterThan(512);
    const failing: Executor = {
      plan: () => ({ ok: true, plan: {} }),
      run: async () => ({ ok: false, description: DESCRIPTION }),
    };
    const records = captureLogs();
    const satisfier = createTaskSatisfier({
      s3: {} as S3Client,
      invoker: {} as LambdaInvoker,
      logger: new Logger({ serviceName: "test", logLevel: "WARN" }),
      executors: { failing },
    });
    const report = await satisfier.runTask(lambdaTask({}, { executor: "failing" }), farDeadline);
    vi.restoreAllMocks();
    expect(report).toMatchObject({ event: "TASK_ERROR" });
    const failed = records.find((r) => r.message === "task failed");
    expect(failed).toMatchObject({
      level: "WARN",
      summary: "terraform apply failed (exit code 1): Error: Invalid reference",
      description: DESCRIPTION.slice(0, 512),
      stackId: "feature-123",
      task: "notify",
    });
  });
});
