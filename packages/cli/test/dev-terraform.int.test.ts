// What dev gives Terraform and `runner:` tasks (docs/local-development.md): the state bucket on
// dev's own S3 (created when missing, TERRAFORM_STATE_BUCKET overrides the name), S3-only endpoint
// settings, and local runners whose JSON log lines are logged again through dev's logger at their
// own level (anything else as plain info lines). Against fauxqs; the runner's output is fed to the
// launcher's output callback as a runner would write it.

import type { Logger } from "@aws-lambda-powertools/logger";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import type { DevAws } from "../src/dev/aws.js";

const captured: {
  onOutput?: ((line: string, stream: "stderr" | "stdout") => void) | undefined;
  env?: Record<string, string>;
} = {};

vi.mock("@stackseam/task-satisfier", async (importOriginal) => {
  const real = await importOriginal<typeof import("@stackseam/task-satisfier")>();
  return {
    ...real,
    localRunnerLauncher: (opts: Parameters<typeof real.localRunnerLauncher>[0]) => {
      captured.onOutput = opts.onOutput;
      captured.env = opts.env as Record<string, string>;
      return real.localRunnerLauncher(opts);
    },
  };
});

const { DEV_STATE_BUCKET, prepareDevTerraform } = await import("../src/dev/terraform.js");

type Call = [level: string, message: string, extra: unknown];

function recordingLogger() {
  const calls: Call[] = [];
  const at =
    (level: string) =>
    (message: string, extra?: unknown): void => {
      calls.push([level, message, extra]);
    };
  const logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger: logger as unknown as Logger, calls };
}

describe("dev's Terraform setup", () => {
  let test: TestAws;
  let aws: DevAws;
  const savedBucket = process.env.TERRAFORM_STATE_BUCKET;

  beforeAll(async () => {
    test = await startTestAws();
    aws = {
      endpoint: test.endpoint,
      s3Endpoint: test.endpoint,
      region: test.region,
      embedded: true,
      eventQueueUrl: test.eventQueueUrl,
      taskQueueUrl: test.taskQueueUrl,
      eventDlqUrl: test.eventDlqUrl,
      taskDlqUrl: test.taskDlqUrl,
      bucket: test.bucket,
      sqs: test.sqs,
      s3: test.s3,
      env: { AWS_ENDPOINT_URL: test.endpoint, AWS_REGION: test.region, AWS_ACCESS_KEY_ID: "test" },
      stop: async () => {},
    };
  });

  afterEach(() => {
    if (savedBucket === undefined) delete process.env.TERRAFORM_STATE_BUCKET;
    else process.env.TERRAFORM_STATE_BUCKET = savedBucket;
  });

  afterAll(async () => {
    await test?.stop();
  });

  it("creates the state bucket, points only S3 at dev, and passes keys the environment has", async () => {
    delete process.env.TERRAFORM_STATE_BUCKET;
    const { logger } = recordingLogger();
    const tf = await prepareDevTerraform({ aws, terraformBin: "terraform", runnerLogger: logger });
    try {
      expect(tf.stateBucket).toBe(DEV_STATE_BUCKET);
      await test.s3.send(new HeadBucketCommand({ Bucket: DEV_STATE_BUCKET }));
      // Only the access key is in dev's env: no secret is invented for Terraform.
      expect(tf.options.terraformEnv).toEqual({
        AWS_ENDPOINT_URL_S3: test.endpoint,
        AWS_REGION: test.region,
        AWS_DEFAULT_REGION: test.region,
        AWS_ACCESS_KEY_ID: "test",
      });
      expect(tf.options.backend).toEqual({
        stateBucket: { bucket: DEV_STATE_BUCKET, region: test.region },
        s3Endpoint: { url: test.endpoint },
      });
      expect(captured.env).toMatchObject({
        TERRAFORM_STATE_BUCKET: DEV_STATE_BUCKET,
        SQS_EVENT_QUEUE_URL: test.eventQueueUrl,
      });
    } finally {
      await tf.stop();
    }
  });

  it("TERRAFORM_STATE_BUCKET names the bucket; an existing one is used as it is", async () => {
    process.env.TERRAFORM_STATE_BUCKET = "  my-states  ";
    const { logger } = recordingLogger();
    const first = await prepareDevTerraform({ aws, terraformBin: "terraform", runnerLogger: logger });
    const second = await prepareDevTerraform({ aws, terraformBin: "terraform", runnerLogger: logger });
    expect(first.stateBucket).toBe("my-states");
    expect(second.stateBucket).toBe("my-states");
    await test.s3.send(new HeadBucketCommand({ Bucket: "my-states" }));
    second.kill();
    await first.stop();
  });

  it("logs a runner's lines again at their own level, without the Powertools envelope", async () => {
    const { logger, calls } = recordingLogger();
    const tf = await prepareDevTerraform({ aws, terraformBin: "terraform", runnerLogger: logger });
    const out = captured.onOutput;
    if (!out) throw new Error("the launcher got no output callback");
    out(
      JSON.stringify({
        level: "WARN",
        message: "plan has changes",
        timestamp: "2026-12-01T00:00:00Z",
        service: "runner",
        sampling_rate: 0,
        task: "apply",
      }),
      "stdout",
    );
    out(JSON.stringify({ level: "Error", message: "apply failed", stackId: "s1" }), "stdout");
    out(JSON.stringify({ level: "TRACE", message: "very detailed" }), "stdout");
    out(JSON.stringify({ message: "no level" }), "stdout");
    out(JSON.stringify({ level: "INFO", message: { not: "text" } }), "stdout");
    out("Terraform v1.9.0 plain text", "stdout");
    await tf.stop();
    expect(calls[0]).toEqual(["warn", "plan has changes", { task: "apply" }]);
    expect(calls[1]).toEqual(["error", "apply failed", { stackId: "s1" }]);
    // An unknown level or none: info, so nothing is lost.
    expect(calls[2]).toEqual(["info", "very detailed", {}]);
    expect(calls[3]).toEqual(["info", "no level", {}]);
    // A message that is not text: the whole line is the message.
    expect(calls[4]?.[0]).toBe("info");
    expect(calls[4]?.[1]).toBe(JSON.stringify({ level: "INFO", message: { not: "text" } }));
    expect(calls[5]).toEqual(["info", "Terraform v1.9.0 plain text", { stream: "runner" }]);
  });
});
