import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ECSClient, RunTaskCommand } from "@aws-sdk/client-ecs";
import { parseTaskMessage, type TaskMessage, type TaskReport } from "@stackseam/core";
import {
  createTaskSatisfier,
  ECS_OVERRIDES_LIMIT,
  ecsRunnerLauncher,
  localLambdaInvoker,
  localRunnerLauncher,
  type RunnerLauncher,
  readRunnerMessage,
  TASK_MESSAGE_S3_VAR,
  TASK_MESSAGE_VAR,
} from "@stackseam/task-satisfier";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { drainQueue } from "../../../test/support/sqs.js";
// @ts-expect-error: a plain .mjs build script without types
import { bundleRunner } from "../scripts/build-runner.mjs";
import {
  DECLARES_BACKEND,
  FAKE_TF,
  FUNCTIONS_DIR,
  lambdaContext,
  silentLogger,
  sqsRecord,
  terraformTask,
} from "./support.js";

const ecsRunner = {
  type: "ecs",
  cluster: "stackseam",
  taskDefinition: "stackseam-runner:3",
  subnets: ["subnet-1", "subnet-2"],
  securityGroups: ["sg-1"],
};

let aws: TestAws;
let dir: string;

beforeAll(async () => {
  aws = await startTestAws({ bucket: "runner-messages" });
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-runner-"));
  await drainQueue(aws.sqs, aws.eventQueueUrl);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function satisfier(runnerLauncher: RunnerLauncher) {
  return createTaskSatisfier({
    sqs: aws.sqs,
    eventQueueUrl: aws.eventQueueUrl,
    s3: aws.s3,
    invoker: localLambdaInvoker(FUNCTIONS_DIR),
    terraformBin: FAKE_TF,
    deadlineMarginMs: 1000,
    logger: silentLogger(),
    runnerLauncher,
  });
}

const runnerTask = (overrides: Partial<TaskMessage> = {}) =>
  terraformTask({
    config: { action: "apply", source: { type: "local", location: join(dir, "scripts") } },
    runner: ecsRunner,
    ...overrides,
  });

async function reports(): Promise<TaskReport[]> {
  return (await drainQueue(aws.sqs, aws.eventQueueUrl)).map((m) => JSON.parse(m.Body ?? "") as TaskReport);
}

describe("ECS runner launcher (issue 14 item 6)", () => {
  const ecs = mockClient(ECSClient);
  afterEach(() => ecs.reset());
  const launcher = (store = true) =>
    ecsRunnerLauncher({
      ecs: new ECSClient({ region: "us-east-1" }),
      env: { SQS_EVENT_QUEUE_URL: aws.eventQueueUrl },
      ...(store ? { store: { s3: aws.s3, bucket: aws.bucket } } : {}),
    });

  it("starts a Fargate task carrying the message, acknowledges the record and sends no report", async () => {
    ecs
      .on(RunTaskCommand)
      .resolves({ tasks: [{ taskArn: "arn:aws:ecs:us-east-1:1:task/stackseam/abc" }], failures: [] });
    const message = runnerTask();
    const res = await satisfier(launcher()).handler(
      { Records: [sqsRecord(JSON.stringify(message))] },
      lambdaContext(),
    );
    expect(res).toEqual({ batchItemFailures: [] });
    expect(await reports()).toEqual([]);
    const calls = ecs.commandCalls(RunTaskCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      cluster: "stackseam",
      taskDefinition: "stackseam-runner:3",
      launchType: "FARGATE",
      count: 1,
      startedBy: "stackseam",
      clientToken: "tok-1",
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ["subnet-1", "subnet-2"],
          securityGroups: ["sg-1"],
          assignPublicIp: "DISABLED",
        },
      },
      overrides: {
        containerOverrides: [
          {
            name: "stackseam-runner",
            environment: [
              { name: "SQS_EVENT_QUEUE_URL", value: aws.eventQueueUrl },
              { name: TASK_MESSAGE_VAR, value: JSON.stringify(message) },
            ],
          },
        ],
      },
    });
  });

  it("passes a message too big for the 8 KiB of overrides through S3, and the runner reads it back", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: "arn:task" }] });
    const metadata = Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`key${i}`, "v".repeat(100)]));
    const message = runnerTask({ metadata });
    expect(JSON.stringify(message).length).toBeGreaterThan(ECS_OVERRIDES_LIMIT);
    await satisfier(launcher()).handler({ Records: [sqsRecord(JSON.stringify(message))] }, lambdaContext());
    const env =
      ecs.commandCalls(RunTaskCommand)[0]?.args[0].input.overrides?.containerOverrides?.[0]?.environment ??
      [];
    const location = env.find((e) => e.name === TASK_MESSAGE_S3_VAR)?.value;
    expect(location).toBe(`s3://runner-messages/stackseam/runner-messages/feature-123/tok-1.json`);
    expect(env.some((e) => e.name === TASK_MESSAGE_VAR)).toBe(false);
    expect(
      JSON.stringify({ containerOverrides: [{ name: "stackseam-runner", environment: env }] }).length,
    ).toBeLessThanOrEqual(ECS_OVERRIDES_LIMIT);
    expect(await readRunnerMessage({ [TASK_MESSAGE_S3_VAR]: location }, aws.s3)).toEqual(message);
  });

  it("reports a TASK_ERROR when the message is too big and there is no bucket for it", async () => {
    const metadata = Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`key${i}`, "v".repeat(100)]));
    await satisfier(launcher(false)).handler(
      { Records: [sqsRecord(JSON.stringify(runnerTask({ metadata })))] },
      lambdaContext(),
    );
    const [report] = await reports();
    expect(report?.description).toMatch(
      /does not fit the 8192-character limit of ECS container overrides.*set RUNNER_MESSAGE_BUCKET/,
    );
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  it("reports RunTask failures and invalid runners; retries throttling", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: "RESOURCE:MEMORY", arn: "arn:ci" }] });
    await satisfier(launcher()).handler(
      { Records: [sqsRecord(JSON.stringify(runnerTask()))] },
      lambdaContext(),
    );
    expect((await reports())[0]?.description).toBe(
      "starting the ECS runner failed: RunTask on cluster stackseam started no task: RESOURCE:MEMORY arn:ci",
    );
    await satisfier(launcher()).handler(
      { Records: [sqsRecord(JSON.stringify(runnerTask({ runner: { type: "ecs", cluster: "c" } })))] },
      lambdaContext(),
    );
    expect((await reports())[0]?.description).toMatch(
      /^invalid ecs runner: taskDefinition .* is required; subnets must list/,
    );
    ecs
      .on(RunTaskCommand)
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    const record = sqsRecord(JSON.stringify(runnerTask()));
    const res = await satisfier(launcher()).handler({ Records: [record] }, lambdaContext());
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(await reports()).toEqual([]);
  });

  it("leaves the security groups to the VPC's default when the runner names none", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: "arn:task" }] });
    const { securityGroups: _sg, ...runner } = ecsRunner;
    await satisfier(launcher()).handler(
      { Records: [sqsRecord(JSON.stringify(runnerTask({ runner: { ...runner, assignPublicIp: true } })))] },
      lambdaContext(),
    );
    expect(ecs.commandCalls(RunTaskCommand)[0]?.args[0].input.networkConfiguration).toEqual({
      awsvpcConfiguration: { subnets: ["subnet-1", "subnet-2"], assignPublicIp: "ENABLED" },
    });
  });

  it("hashes a dispatch token longer than RunTask's 64-character clientToken", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: "arn:task" }] });
    await satisfier(launcher()).handler(
      { Records: [sqsRecord(JSON.stringify(runnerTask({ token: "t".repeat(100) })))] },
      lambdaContext(),
    );
    expect(ecs.commandCalls(RunTaskCommand)[0]?.args[0].input.clientToken).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("the runner entry point as a local child process, in place of ECS (issue 14 item 6)", () => {
  let entry: string;
  beforeAll(async () => {
    entry = await bundleRunner(join(await mkdtemp(join(tmpdir(), "stackseam-runner-bundle-")), "runner.mjs"));
  }, 120_000);

  const local = (output: string[]) =>
    localRunnerLauncher({
      entry,
      env: {
        ...aws.env,
        SQS_EVENT_QUEUE_URL: aws.eventQueueUrl,
        TERRAFORM_BIN: FAKE_TF,
        HEARTBEAT_INTERVAL_SECONDS: "1",
        TERRAFORM_DEADLINE_MARGIN_MS: "2000",
        POWERTOOLS_LOG_LEVEL: "WARN",
      },
      store: { s3: aws.s3, bucket: aws.bucket },
      onOutput: (line) => output.push(line),
      stopGraceMs: 10_000,
    });

  /** Reports until one of `event` arrives (the hang guard is the test timeout). */
  async function waitFor(event: TaskReport["event"], seen: TaskReport[]): Promise<TaskReport> {
    for (;;) {
      const got = await reports();
      seen.push(...got);
      const found = seen.find((r) => r.event === event);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function scripts(behaviour: Record<string, unknown>) {
    await mkdir(join(dir, "scripts"), { recursive: true });
    await writeFile(join(dir, "scripts", "main.tf"), DECLARES_BACKEND);
    await writeFile(join(dir, "scripts", "fake-terraform.json"), JSON.stringify(behaviour));
  }

  it("runs the same executor code, sends heartbeats while it works, then the final report", async () => {
    const go = join(dir, "go");
    await scripts({ apply: { waitFile: go }, outputs: { url: { sensitive: false, value: "https://x" } } });
    const output: string[] = [];
    const launcher = local(output);
    const message = runnerTask();
    const res = await satisfier(launcher).handler(
      { Records: [sqsRecord(JSON.stringify(message))] },
      lambdaContext(),
    );
    expect(res).toEqual({ batchItemFailures: [] });
    const seen: TaskReport[] = [];
    const beat = await waitFor("TASK_HEARTBEAT", seen);
    expect(beat).toEqual({ stackId: "feature-123", event: "TASK_HEARTBEAT", task: "infra", token: "tok-1" });
    await writeFile(go, "");
    const done = await waitFor("TASK_COMPLETED", seen);
    expect(done).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "infra",
      token: "tok-1",
      outputs: { url: { value: "https://x", sensitive: false } },
    });
    // The final report is the last thing the runner sends.
    await launcher.stop?.();
    expect(seen.at(-1)).toEqual(done);
    expect(launcher.running()).toBe(0);
  }, 60_000);

  it("reports a stopped run as TASK_ERROR when the runner gets SIGTERM (ECS stopping the task)", async () => {
    const calls = join(dir, "calls.jsonl");
    await scripts({ record: calls, apply: { waitFile: join(dir, "never") } });
    const output: string[] = [];
    const launcher = local(output);
    await satisfier(launcher).handler(
      { Records: [sqsRecord(JSON.stringify(runnerTask()))] },
      lambdaContext(),
    );
    // Stop it once `terraform apply` runs (the fake records each call as it starts).
    for (;;) {
      const recorded = await readFile(calls, "utf8").catch(() => "");
      if (recorded.includes('"argv":["apply"')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await launcher.stop?.();
    const error = await waitFor("TASK_ERROR", []);
    expect(error.description).toMatch(
      /^terraform apply was stopped \(the runner received SIGTERM\): SIGTERM sent \d+\.\d s after it started; it stopped \d+\.\d s after SIGTERM\n/,
    );
    expect(launcher.running()).toBe(0);
  }, 60_000);

  it("takes a big message through S3 like ECS would", async () => {
    await scripts({});
    const output: string[] = [];
    const launcher = local(output);
    const metadata = Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`key${i}`, "v".repeat(100)]));
    const message = runnerTask({
      metadata,
      config: {
        action: "apply",
        source: { type: "local", location: join(dir, "scripts") },
        metadataVariables: [],
      },
    });
    expect(parseTaskMessage(message).ok).toBe(true);
    await satisfier(launcher).handler({ Records: [sqsRecord(JSON.stringify(message))] }, lambdaContext());
    const done = await waitFor("TASK_COMPLETED", []);
    expect(done.outputs).toEqual({});
    await launcher.stop?.();
  }, 60_000);
});
