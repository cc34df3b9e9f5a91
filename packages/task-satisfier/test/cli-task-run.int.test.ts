import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { commands } from "@stackseam/cli";
import type { TaskMessage } from "@stackseam/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { lambdaTask, terraformTask } from "./support.js";

const FAKE_TF = new URL("../../../test/fixtures/fake-terraform/terraform", import.meta.url).pathname;
const functionsDir = new URL("./fixtures/functions/", import.meta.url).pathname;

let aws: TestAws;
let dir: string;
let recordFile: string;

beforeAll(async () => {
  aws = await startTestAws();
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-cli-task-"));
  recordFile = join(dir, "calls.jsonl");
  await writeFile(join(dir, "main.tf"), 'terraform {\n  backend "s3" {}\n}\n');
  // No queue and no `stackseam dev` unless a test says so.
  vi.stubEnv("SQS_EVENT_QUEUE_URL", undefined);
  vi.stubEnv("STACKSEAM_DATA_DIR", join(dir, "no-dev"));
  vi.stubEnv("LOG_LEVEL", "SILENT");
  vi.stubEnv("FAKE_TF_RECORD", recordFile);
  vi.stubEnv("TERRAFORM_BIN", FAKE_TF);
});
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `stackseam task …` in-process and captures what it prints. */
async function stackseam(...args: string[]) {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await (await commands.task!.load()).run(args);
    return { code, stdout, stderr };
  } finally {
    vi.mocked(process.stdout.write).mockRestore();
    vi.mocked(process.stderr.write).mockRestore();
  }
}

async function messageFile(message: TaskMessage): Promise<string> {
  const file = join(dir, "task.json");
  await writeFile(file, JSON.stringify(message));
  return file;
}

const tfTask = (action = "apply") =>
  terraformTask({
    config: { action, source: { type: "local", location: join(dir, "main.tf") }, variables: { size: 2 } },
    metadata: { owner: "$(id)" },
  });

describe("stackseam task run", () => {
  it("--dry-run prints the exact terraform commands and runs nothing", async () => {
    const res = await stackseam("run", await messageFile(tfTask()), "--dry-run");
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ dryRun: true, ok: true, task: { stackId: "feature-123", task: "infra" } });
    expect((out.plan as { commands: string[][] }).commands).toEqual([
      [
        FAKE_TF,
        "init",
        "-input=false",
        "-no-color",
        `-backend-config=key=qa-env/feature-123/${join(dir, "main.tf").slice(1)}`,
      ],
      [
        FAKE_TF,
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-lock-timeout=300s",
        "-var",
        "stack_id=feature-123",
        "-var",
        "owner=$(id)",
        "-var",
        "size=2",
      ],
      [FAKE_TF, "output", "-json", "-no-color"],
    ]);
    expect(existsSync(recordFile)).toBe(false);
  });

  it("--dry-run prints the lambda invocation", async () => {
    const res = await stackseam(
      "run",
      await messageFile(lambdaTask({ name: "echo", args: { a: 1 } })),
      "--dry-run",
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({
      plan: {
        executor: "lambda",
        functionName: "echo",
        invocationType: "RequestResponse",
        payload: { stackId: "feature-123", metadata: { apiImageTag: "e724e90" }, args: { a: 1 } },
      },
    });
  });

  it("runs terraform for real and prints the report, sending nothing without a queue", async () => {
    const res = await stackseam("run", await messageFile(tfTask("destroy")));
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "infra",
      token: "tok-1",
    });
    expect(res.stderr).toContain("report not sent (no event queue configured");
    const calls = (await readFile(recordFile, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { argv: string[] });
    expect(calls.map((c) => c.argv[0])).toEqual(["init", "destroy"]);
    expect(calls[1]?.argv).toContain("owner=$(id)");
  });

  it("exits 1 with a TASK_ERROR report when terraform fails", async () => {
    vi.stubEnv("FAKE_TF_EXIT", "4");
    vi.stubEnv("FAKE_TF_ONLY", "apply");
    const res = await stackseam("run", await messageFile(tfTask()));
    expect(res.code).toBe(1);
    const report = JSON.parse(res.stdout) as { event: string; description: string };
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toMatch(/^terraform apply failed \(exit code 4\)/);
  });

  it("sends the report to --queue-url", async () => {
    for (const [k, v] of Object.entries(aws.env)) vi.stubEnv(k, v);
    vi.stubEnv("SQS_EVENT_QUEUE_URL", undefined);
    const { QueueUrl } = await aws.sqs.send(new CreateQueueCommand({ QueueName: `cli-${randomUUID()}` }));
    const res = await stackseam(
      "run",
      await messageFile(lambdaTask({ name: "echo" })),
      "--functions",
      functionsDir,
      "--queue-url",
      QueueUrl!,
    );
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`report sent to ${QueueUrl}`);
    const received = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(received.Messages?.map((m) => JSON.parse(m.Body!))).toEqual([JSON.parse(res.stdout)]);
  });

  it("refuses an invalid task message with exit 2", async () => {
    const file = join(dir, "bad.json");
    await writeFile(file, JSON.stringify({ stackId: "s", task: "t" }));
    const res = await stackseam("run", file);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("is not a valid task message");
    expect((await stackseam("run")).code).toBe(2);
    expect((await stackseam("explode")).code).toBe(2);
  });
});
