import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCarriable, parseTaskReport, type TaskReport } from "@stackseam/core";
import {
  createTaskSatisfier,
  localLambdaInvoker,
  MAX_OUTPUTS_BYTES,
  reportFor,
  sendReport,
} from "@stackseam/task-satisfier";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { drainQueue } from "../../../test/support/sqs.js";
import {
  DECLARES_BACKEND,
  FAKE_TF,
  FUNCTIONS_DIR,
  lambdaContext,
  lambdaTask,
  silentLogger,
  sqsRecord,
  terraformTask,
} from "./support.js";

// Issue 12, defect 1: a failure text the queue cannot carry (ANSI colours, BEL, NUL…) made the Task
// Satisfier refuse its own TASK_ERROR report; the record was retried and the task ran again on every
// delivery until the DLQ, with the stack PENDING forever.

let aws: TestAws;
let dir: string;

beforeAll(async () => {
  aws = await startTestAws();
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-sendable-"));
  await drainQueue(aws.sqs, aws.eventQueueUrl);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const satisfier = () =>
  createTaskSatisfier({
    sqs: aws.sqs,
    eventQueueUrl: aws.eventQueueUrl,
    s3: aws.s3,
    invoker: localLambdaInvoker(FUNCTIONS_DIR),
    terraformBin: FAKE_TF,
    workDir: dir,
    deadlineMarginMs: 1000,
    logger: silentLogger(),
  });

async function reportsOnQueue(): Promise<TaskReport[]> {
  return (await drainQueue(aws.sqs, aws.eventQueueUrl)).map((m) => JSON.parse(m.Body ?? "") as TaskReport);
}

describe("every report is sendable (issue 12, defect 1)", () => {
  it("a Lambda error with ANSI colours, BEL, NUL, a lone surrogate and U+FFFF is reported readably and the record acknowledged", async () => {
    const res = await satisfier().handler(
      { Records: [sqsRecord(JSON.stringify(lambdaTask({ name: "hostile-error" })))] },
      lambdaContext(),
    );
    expect(res).toEqual({ batchItemFailures: [] });
    const [report, ...more] = await reportsOnQueue();
    expect(more).toEqual([]);
    expect(report?.event).toBe("TASK_ERROR");
    const text = report?.description ?? "";
    expect(text).toMatch(
      /^Lambda function hostile-error failed: DeployError: Error: deploy failed␇ at step␀ 3 \uFFFD \uFFFD/,
    );
    expect(text).not.toContain("\u001b");
    expect(isCarriable(text)).toBe(true);
  });

  it("Terraform output with colours, control characters and invalid UTF-8 is reported readably", async () => {
    const scripts = join(dir, "scripts");
    await writeFile(
      join(dir, "hostile.bin"),
      Buffer.concat([
        Buffer.from(
          "\u001b[31m╷\u001b[0m\n\u001b[31m│\u001b[0m \u001b[1m\u001b[31mError: \u001b[0m\u001b[1mbad thing\u001b[0m\r\n",
        ),
        Buffer.from([0x00, 0x07, 0x08, 0xff, 0xfe, 0xc3, 0x28, 0x0a]),
        Buffer.from("\u001b]0;title\u0007tail line\n"),
      ]),
    );
    await mkdir(scripts);
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await writeFile(
      join(scripts, "fake-terraform.json"),
      JSON.stringify({ apply: { exit: 1, printFile: join(dir, "hostile.bin") } }),
    );
    const message = terraformTask({
      config: { action: "apply", source: { type: "local", location: scripts } },
    });
    const res = await satisfier().handler({ Records: [sqsRecord(JSON.stringify(message))] }, lambdaContext());
    expect(res).toEqual({ batchItemFailures: [] });
    const [report] = await reportsOnQueue();
    expect(report?.event).toBe("TASK_ERROR");
    expect(report?.description).toBe(
      "terraform apply failed (exit code 1)\n--- last output ---\nFAKE-TF-START apply\n╷\n│ Error: bad thing\n␀␇␈\uFFFD\uFFFD\uFFFD(\ntail line\n",
    );
  });
});

describe("the report builder never refuses its own report", () => {
  const task = { stackId: "s-1", task: "t", token: "tok" };

  it("makes any description carriable and fits it to the limit", () => {
    const report = reportFor(task, { ok: false, description: `\u0000\u001b[31m${"x".repeat(40_000)}\ud800` });
    expect(parseTaskReport(report).ok).toBe(true);
    expect(report.description?.startsWith("␀xxx")).toBe(true);
  });

  it("an empty description still makes a valid TASK_ERROR", () => {
    expect(parseTaskReport(reportFor(task, { ok: false, description: "\u001b[0m" })).ok).toBe(true);
  });

  it("carries outputs, sensitive ones by name only", () => {
    expect(
      reportFor(task, {
        ok: true,
        outputs: { url: { value: "https://x", sensitive: false }, password: { sensitive: true } },
      }),
    ).toEqual({
      ...task,
      event: "TASK_COMPLETED",
      outputs: { url: { value: "https://x", sensitive: false }, password: { sensitive: true } },
    });
  });

  it("turns outputs over 64 KiB into a TASK_ERROR that names the biggest", () => {
    const outputs = {
      doc: { value: "y".repeat(MAX_OUTPUTS_BYTES), sensitive: false as const },
      id: { value: 1, sensitive: false as const },
    };
    const report = reportFor(task, { ok: true, outputs });
    expect(report.event).toBe("TASK_ERROR");
    // 65 536 "y" plus {"value":"","sensitive":false}; the whole map adds its names and braces.
    expect(report.description).toBe(
      "the task succeeded but its outputs cannot be reported: the task's outputs take 65609 bytes as JSON, over the 65536-byte limit (MAX_OUTPUTS_BYTES); the largest: doc (65566 bytes), id (29 bytes). Output less (an id or a URL rather than a whole document) or mark big values sensitive",
    );
    expect(parseTaskReport(report).ok).toBe(true);
  });

  it("turns outputs that cannot travel (names, text) into a TASK_ERROR", () => {
    const badName = reportFor(task, { ok: true, outputs: { "bad name": { value: 1, sensitive: false } } });
    expect(badName.description).toMatch(/output name "bad name" cannot be reported/);
    const nul = reportFor(task, {
      ok: true,
      outputs: { blob: { value: { a: ["x\u0000"] }, sensitive: false } },
    });
    expect(nul.description).toMatch(/output blob holds text that SQS or Postgres cannot carry/);
  });

  it("every report it builds is accepted by sendReport", async () => {
    const report = reportFor(task, { ok: false, description: "\u009b31m\u0007\u0000" });
    await expect(sendReport(aws.sqs, aws.eventQueueUrl, report)).resolves.toBeUndefined();
  });
});
