// The Task Satisfier invoked directly with a task message (not an SQS batch): it returns the report
// and sends it too (docs/task-satisfier.md). A message naming a runner is handed to the runner,
// which reports itself; the caller then gets a heartbeat and nothing is sent.
import { S3Client } from "@aws-sdk/client-s3";
import type { TaskReport } from "@stackseam/core";
import {
  createTaskSatisfier,
  localLambdaInvoker,
  type RunnerLauncher,
  TransientError,
} from "@stackseam/task-satisfier";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { drainQueue } from "../../../test/support/sqs.js";
import { FUNCTIONS_DIR, lambdaContext, silentLogger, terraformTask } from "./support.js";

const runner = {
  type: "ecs",
  cluster: "stackseam",
  taskDefinition: "stackseam-runner:3",
  subnets: ["subnet-1"],
};

let aws: TestAws;
beforeAll(async () => {
  aws = await startTestAws();
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(async () => {
  await drainQueue(aws.sqs, aws.eventQueueUrl);
});

const sent = async (): Promise<TaskReport[]> =>
  (await drainQueue(aws.sqs, aws.eventQueueUrl)).map((m) => JSON.parse(m.Body ?? "") as TaskReport);

function satisfier(runnerLauncher?: RunnerLauncher, withQueue = true) {
  return createTaskSatisfier({
    ...(withQueue ? { sqs: aws.sqs, eventQueueUrl: aws.eventQueueUrl } : {}),
    s3: new S3Client({ region: "us-east-1" }),
    invoker: localLambdaInvoker(FUNCTIONS_DIR),
    logger: silentLogger(),
    ...(runnerLauncher ? { runnerLauncher } : {}),
  });
}

describe("direct invocation with a message that names a runner", () => {
  it("returns a heartbeat once the runner started, and sends nothing (the runner reports)", async () => {
    const launched: string[] = [];
    const launcher: RunnerLauncher = {
      async launch(message) {
        launched.push(message.token);
        return { ok: true, id: "arn:aws:ecs:task/1" };
      },
    };
    const res = await satisfier(launcher).handler(terraformTask({ runner }), lambdaContext());
    expect(res).toEqual({ stackId: "feature-123", event: "TASK_HEARTBEAT", task: "infra", token: "tok-1" });
    expect(launched).toEqual(["tok-1"]);
    expect(await sent()).toEqual([]);
  });

  it("reports a TASK_ERROR, returned and sent, when no runner launcher is configured", async () => {
    const res = await satisfier().handler(terraformTask({ runner }), lambdaContext());
    expect(res).toMatchObject({
      event: "TASK_ERROR",
      description: "the task names a runner, but this Task Satisfier has no runner launcher (ECS) configured",
    });
    expect(await sent()).toEqual([res]);
  });

  it("reports a launcher that crashed, and throws for the caller to retry on transient trouble", async () => {
    const crashing: RunnerLauncher = {
      async launch() {
        throw new Error("ECS client misconfigured");
      },
    };
    const res = await satisfier(crashing).handler(terraformTask({ runner }), lambdaContext());
    expect(res).toMatchObject({
      event: "TASK_ERROR",
      description: "starting the runner failed: ECS client misconfigured",
    });
    expect(await sent()).toHaveLength(1);

    const throttled: RunnerLauncher = {
      async launch() {
        throw new TransientError("ECS RunTask failed transiently");
      },
    };
    await expect(satisfier(throttled).handler(terraformTask({ runner }), lambdaContext())).rejects.toThrow(
      "starting the runner failed transiently; invoke again",
    );
    expect(await sent()).toEqual([]);
  });
});

describe("direct invocation refusals", () => {
  it("throws on a message that names no stack, task and token: there is no one to report to", async () => {
    await expect(
      satisfier().handler({ executor: "terraform" } as never, lambdaContext()),
    ).rejects.toMatchObject({
      code: "INVALID_MESSAGE",
      message: expect.stringMatching(/^invalid task message: /),
    });
  });

  it("cannot send without SQS_EVENT_QUEUE_URL and says so", async () => {
    await expect(
      satisfier(undefined, false).handler(terraformTask({ executor: "pulumi" }), lambdaContext()),
    ).rejects.toThrow("SQS_EVENT_QUEUE_URL is required to send reports");
  });
});
