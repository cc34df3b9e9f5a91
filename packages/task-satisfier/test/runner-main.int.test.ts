// The remote runner's entry point, driven in-process with the environment an ECS task (or
// `stackseam dev`) gives it: the child-process tests in runner.int.test.ts run a minified bundle
// that coverage cannot map back, and cannot reach its refusals without a launcher in the way.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { TaskMessage, TaskReport } from "@stackseam/core";
import { runnerMain } from "@stackseam/task-satisfier";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { drainQueue } from "../../../test/support/sqs.js";
import { DECLARES_BACKEND, FAKE_TF, terraformTask } from "./support.js";

let aws: TestAws;
let dir: string;

beforeAll(async () => {
  aws = await startTestAws({ bucket: "runner-messages" });
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-runner-main-"));
  await mkdir(join(dir, "scripts"));
  await writeFile(join(dir, "scripts", "main.tf"), DECLARES_BACKEND);
  await writeFile(join(dir, "scripts", "fake-terraform.json"), "{}");
  await drainQueue(aws.sqs, aws.eventQueueUrl);
  // The SDK clients take region and credentials from the process, as in the container.
  vi.stubEnv("AWS_REGION", aws.region);
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

/** What the launcher gives a runner besides the message. */
const runnerEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...aws.env,
  SQS_EVENT_QUEUE_URL: aws.eventQueueUrl,
  TERRAFORM_BIN: FAKE_TF,
  HEARTBEAT_INTERVAL_SECONDS: "0",
  ...extra,
});

const task = (overrides: Partial<TaskMessage> & { config?: Record<string, unknown> } = {}) =>
  terraformTask({
    config: { action: "apply", source: { type: "local", location: join(dir, "scripts") } },
    ...overrides,
  });

async function reports(): Promise<TaskReport[]> {
  return (await drainQueue(aws.sqs, aws.eventQueueUrl)).map((m) => JSON.parse(m.Body ?? "") as TaskReport);
}

describe("the runner's entry point (docs/operations.md: the remote runner)", () => {
  it("runs the inline message and exits 0 once the final report is sent", async () => {
    const code = await runnerMain(runnerEnv({ STACKSEAM_TASK_MESSAGE: JSON.stringify(task()) }));
    expect(code).toBe(0);
    expect(await reports()).toEqual([
      { stackId: "feature-123", event: "TASK_COMPLETED", task: "infra", token: "tok-1", outputs: {} },
    ]);
  });

  it("reads a message passed through S3 (too big for the container overrides)", async () => {
    const key = "stackseam/runner-messages/feature-123/tok-1.json";
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: JSON.stringify(task({ token: "tok-s3" })) }),
    );
    const code = await runnerMain(runnerEnv({ STACKSEAM_TASK_MESSAGE_S3: `s3://${aws.bucket}/${key}` }));
    expect(code).toBe(0);
    expect((await reports()).map((r) => [r.event, r.token])).toEqual([["TASK_COMPLETED", "tok-s3"]]);
  });

  it("exits 2 without reporting when its configuration is invalid", async () => {
    const code = await runnerMain({
      ...runnerEnv({ STACKSEAM_TASK_MESSAGE: JSON.stringify(task()) }),
      SQS_EVENT_QUEUE_URL: "",
    });
    expect(code).toBe(2);
    expect(await reports()).toEqual([]);
  });

  it("exits 2 when it was started with no message, or one that cannot be read", async () => {
    expect(await runnerMain(runnerEnv())).toBe(2);
    expect(await runnerMain(runnerEnv({ STACKSEAM_TASK_MESSAGE_S3: "not-an-s3-url" }))).toBe(2);
    expect(
      await runnerMain(runnerEnv({ STACKSEAM_TASK_MESSAGE_S3: `s3://${aws.bucket}/stackseam/missing.json` })),
    ).toBe(2);
    expect(await runnerMain(runnerEnv({ STACKSEAM_TASK_MESSAGE: "{not json" }))).toBe(2);
    expect(await reports()).toEqual([]);
  });

  it("reports an invalid message as TASK_ERROR when it can tell whose it is", async () => {
    const bad = { ...task(), attempt: "first" };
    const code = await runnerMain(runnerEnv({ STACKSEAM_TASK_MESSAGE: JSON.stringify(bad) }));
    expect(code).toBe(0);
    const got = await reports();
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      stackId: "feature-123",
      event: "TASK_ERROR",
      task: "infra",
      token: "tok-1",
    });
    expect(got[0]?.description).toMatch(/^invalid task message: /);
  });

  it("exits 2 on an invalid message that names no stack, task and token: there is no one to report to", async () => {
    const code = await runnerMain(
      runnerEnv({ STACKSEAM_TASK_MESSAGE: JSON.stringify({ executor: "terraform" }) }),
    );
    expect(code).toBe(2);
    expect(await reports()).toEqual([]);
  });

  it("sends heartbeats while the task runs when HEARTBEAT_INTERVAL_SECONDS is set", async () => {
    const go = join(dir, "go");
    await writeFile(join(dir, "scripts", "fake-terraform.json"), JSON.stringify({ apply: { waitFile: go } }));
    const running = runnerMain(
      runnerEnv({ STACKSEAM_TASK_MESSAGE: JSON.stringify(task()), HEARTBEAT_INTERVAL_SECONDS: "1" }),
    );
    const seen: TaskReport[] = [];
    while (!seen.some((r) => r.event === "TASK_HEARTBEAT")) {
      seen.push(...(await reports()));
      await new Promise((r) => setTimeout(r, 100));
    }
    await writeFile(go, "");
    expect(await running).toBe(0);
    seen.push(...(await reports()));
    expect(seen.at(-1)?.event).toBe("TASK_COMPLETED");
  }, 30_000);

  it("stops the task at RUNNER_TIMEOUT_SECONDS and reports it as TASK_ERROR naming the setting", async () => {
    await writeFile(
      join(dir, "scripts", "fake-terraform.json"),
      JSON.stringify({ apply: { waitFile: join(dir, "never") } }),
    );
    const code = await runnerMain(
      runnerEnv({
        STACKSEAM_TASK_MESSAGE: JSON.stringify(task()),
        RUNNER_TIMEOUT_SECONDS: "3",
        TERRAFORM_DEADLINE_MARGIN_MS: "1000",
      }),
    );
    expect(code).toBe(0);
    const [report] = await reports();
    expect(report?.event).toBe("TASK_ERROR");
    expect(report?.description).toMatch(/^terraform apply timed out: .*before the runner's timeout\)/);
  }, 30_000);

  it("does not start a task its timeout leaves no time for, and says which setting to raise", async () => {
    const code = await runnerMain(
      runnerEnv({
        STACKSEAM_TASK_MESSAGE: JSON.stringify(task()),
        RUNNER_TIMEOUT_SECONDS: "1",
        TERRAFORM_DEADLINE_MARGIN_MS: "5000",
      }),
    );
    expect(code).toBe(0);
    const [report] = await reports();
    expect(report?.event).toBe("TASK_ERROR");
    expect(report?.description).toMatch(
      /^not started: .*before the runner's timeout.*raise RUNNER_TIMEOUT_SECONDS$/,
    );
  });

  describe("when S3 keeps failing (throttling, 5xx)", () => {
    let failing: Server;
    let endpoint: string;
    beforeAll(async () => {
      // Every S3 request answers 503 SlowDown, as S3 does when throttling.
      failing = createServer((_req, res) => {
        res.writeHead(503, { "content-type": "application/xml" });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
        );
      });
      await new Promise<void>((r) => failing.listen(0, "127.0.0.1", r));
      endpoint = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => failing.close(r));
    });

    it("runs the task again a few times, then reports that it gave up and why", async () => {
      const message = task({
        config: { action: "apply", source: { type: "s3", bucket: "scripts", key: "infra/" } },
      });
      // The SDK's own retries would only make the test slower.
      vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
      const code = await runnerMain(
        runnerEnv({
          STACKSEAM_TASK_MESSAGE: JSON.stringify(message),
          AWS_ENDPOINT_URL_S3: endpoint,
          // Not a number: the runner falls back to its default timeout instead of stopping at once.
          RUNNER_TIMEOUT_SECONDS: "soon",
        }),
      );
      expect(code).toBe(0);
      const got = await reports();
      expect(got).toHaveLength(1);
      expect(got[0]?.event).toBe("TASK_ERROR");
      expect(got[0]?.description).toMatch(
        /^the runner gave up after 3 attempt\(s\): S3 .* failed transiently/,
      );
    }, 60_000);
  });
});
