// The local runner launcher (`stackseam dev`'s stand-in for ECS, docs/task-satisfier.md#remote-runners):
// the same refusals as ECS before anything starts, the message inline or through S3, and stopping
// what it started. A small script stands in for the runner so only the launcher is under test.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { localRunnerLauncher, TransientError } from "@stackseam/task-satisfier";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, type TestAws } from "../../../test/support/aws.js";
import { silentLogger, terraformTask } from "./support.js";

const ecsRunner = {
  type: "ecs",
  cluster: "stackseam",
  taskDefinition: "stackseam-runner:3",
  subnets: ["subnet-1"],
};
const ctx = { logger: silentLogger() };

let aws: TestAws;
let dir: string;
let entry: string;
let stubborn: string;
beforeAll(async () => {
  aws = await startTestAws({ bucket: "runner-messages-local" });
  dir = await mkdtemp(join(tmpdir(), "stackseam-local-launcher-"));
  // Says how it got its message, then waits to be stopped.
  entry = join(dir, "runner.mjs");
  await writeFile(
    entry,
    'console.log(process.env.STACKSEAM_TASK_MESSAGE ? "message inline" : "message at " + process.env.STACKSEAM_TASK_MESSAGE_S3);\nsetInterval(() => {}, 1000);\n',
  );
  // Ignores SIGTERM, as a runner stuck in a system call would.
  stubborn = join(dir, "stubborn.mjs");
  await writeFile(
    stubborn,
    'process.on("SIGTERM", () => {});\nconsole.log("ready");\nsetInterval(() => {}, 1000);\n',
  );
});
afterAll(async () => {
  await aws.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the local runner launcher", () => {
  it("refuses an invalid runner spec before starting anything", async () => {
    const launcher = localRunnerLauncher({ entry, env: {} });
    const res = await launcher.launch(terraformTask({ runner: { type: "ecs", cluster: "c" } }), ctx);
    expect(res).toEqual({
      ok: false,
      description:
        "invalid ecs runner: taskDefinition (family[:revision] or ARN) is required; subnets must list 1 to 16 subnet ids",
    });
    expect(launcher.running()).toBe(0);
  });

  it("refuses a message too big for the overrides when there is no bucket for it", async () => {
    const launcher = localRunnerLauncher({ entry, env: {} });
    const big = terraformTask({ runner: ecsRunner, metadata: { blob: "x".repeat(9000) } });
    const res = await launcher.launch(big, ctx);
    expect(res.ok).toBe(false);
    if (!res.ok)
      expect(res.description).toMatch(/does not fit the 8192-character limit of ECS container overrides/);
  });

  it("says where storing a big message failed, and leaves S3 trouble that may pass to a retry", async () => {
    const big = terraformTask({ runner: ecsRunner, metadata: { blob: "x".repeat(9000) } });
    const missing = localRunnerLauncher({ entry, env: {}, store: { s3: aws.s3, bucket: "no-such-bucket" } });
    const res = await missing.launch(big, ctx);
    expect(res.ok).toBe(false);
    if (!res.ok)
      expect(res.description).toMatch(
        /^storing the task message for the runner in s3:\/\/no-such-bucket\/stackseam\/runner-messages\/feature-123\/tok-1\.json failed: NoSuchBucket: /,
      );

    // A 503 from S3 is transient: the launch throws for the record to be retried.
    const failing: Server = createServer((_req, res) => {
      res.writeHead(503, { "content-type": "application/xml" });
      res.end(
        '<?xml version="1.0"?><Error><Code>ServiceUnavailable</Code><Message>try later</Message></Error>',
      );
    });
    await new Promise<void>((r) => failing.listen(0, "127.0.0.1", r));
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${(failing.address() as AddressInfo).port}`,
      region: aws.region,
      credentials: TEST_CREDENTIALS,
      forcePathStyle: true,
      maxAttempts: 1,
    });
    try {
      const flaky = localRunnerLauncher({ entry, env: {}, store: { s3, bucket: "messages" } });
      await expect(flaky.launch(big, ctx)).rejects.toBeInstanceOf(TransientError);
    } finally {
      s3.destroy();
      await new Promise((r) => failing.close(r));
    }
  });

  it("starts the runner with the message inline or through S3, and kill() ends it", async () => {
    const lines: string[] = [];
    const launcher = localRunnerLauncher({
      entry,
      env: { SQS_EVENT_QUEUE_URL: aws.eventQueueUrl },
      store: { s3: aws.s3, bucket: aws.bucket },
      onOutput: (line) => lines.push(line),
    });
    const small = await launcher.launch(terraformTask({ runner: ecsRunner }), ctx);
    const big = await launcher.launch(
      terraformTask({ runner: ecsRunner, token: "tok-big", metadata: { blob: "x".repeat(9000) } }),
      ctx,
    );
    expect(small).toMatchObject({ ok: true, id: expect.stringMatching(/^local:\d+$/) });
    expect(big.ok).toBe(true);
    expect(launcher.running()).toBe(2);
    await expect.poll(() => lines.length, { timeout: 20_000 }).toBe(2);
    expect(lines.sort()).toEqual([
      "message at s3://runner-messages-local/stackseam/runner-messages/feature-123/tok-big.json",
      "message inline",
    ]);
    launcher.kill();
    await expect.poll(() => launcher.running(), { timeout: 20_000 }).toBe(0);
    // Nothing left to stop.
    await launcher.stop?.();
  }, 30_000);

  it("stop() follows SIGTERM with SIGKILL for a runner that ignores it", async () => {
    const lines: string[] = [];
    const launcher = localRunnerLauncher({
      entry: stubborn,
      env: {},
      onOutput: (line) => lines.push(line),
      stopGraceMs: 200,
    });
    expect((await launcher.launch(terraformTask({ runner: ecsRunner }), ctx)).ok).toBe(true);
    await expect.poll(() => lines, { timeout: 20_000 }).toEqual(["ready"]);
    await launcher.stop?.();
    expect(launcher.running()).toBe(0);
  }, 30_000);
});
