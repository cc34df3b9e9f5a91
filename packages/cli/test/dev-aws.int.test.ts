// dev's SQS/S3 setup (docs/local-development.md): an embedded fauxqs, or the endpoint named by
// AWS_ENDPOINT_URL(_SQS) — there the queues, their DLQs and the specs bucket are created when
// missing and existing queues get dev's attributes. Run in-process against a fauxqs started here
// as the "outside" endpoint.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevAws, QUEUE_NAMES, SPECS_BUCKET, startDevAws } from "../src/dev/aws.js";
import { DevError } from "../src/dev/errors.js";
import { type FauxqsServer, startLoopbackFauxqs } from "../src/dev/loopback-fauxqs.js";
import { freePort } from "../src/dev/ports.js";

const AWS_VARS = [
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_SQS",
  "AWS_ENDPOINT_URL_S3",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
] as const;

describe("dev's SQS/S3 against an outside endpoint", () => {
  let outside: FauxqsServer;
  let dataDir: string;
  const saved: Record<string, string | undefined> = {};
  const started: DevAws[] = [];

  beforeAll(async () => {
    for (const key of AWS_VARS) saved[key] = process.env[key];
    outside = await startLoopbackFauxqs({ port: 0, logger: false });
    dataDir = await mkdtemp(join(tmpdir(), "stackseam-dev-aws-"));
  });

  afterEach(async () => {
    for (const aws of started.splice(0)) await aws.stop();
    for (const key of AWS_VARS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  afterAll(async () => {
    await outside?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  function setEnv(vars: Partial<Record<(typeof AWS_VARS)[number], string>>) {
    for (const key of AWS_VARS) delete process.env[key];
    Object.assign(process.env, vars);
  }

  async function visibility(aws: DevAws, url: string): Promise<string | undefined> {
    const r = await aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["VisibilityTimeout", "RedrivePolicy"],
      }),
    );
    return r.Attributes?.VisibilityTimeout;
  }

  it("creates the queues and bucket on a fresh endpoint, then re-applies attributes on the next start", async () => {
    setEnv({ AWS_ENDPOINT_URL: outside.address, AWS_REGION: "eu-west-1" });
    const first = await startDevAws({ dataDir, port: 0, timeouts: { events: 40, tasks: 50 } });
    started.push(first);
    expect(first.embedded).toBe(false);
    expect(first.endpoint).toBe(outside.address);
    expect(first.s3Endpoint).toBe(outside.address);
    expect(first.region).toBe("eu-west-1");
    expect(first.eventQueueUrl).toContain(QUEUE_NAMES.events);
    expect(first.taskQueueUrl).toContain(QUEUE_NAMES.tasks);
    expect(first.bucket).toBe(SPECS_BUCKET);
    // No credentials in the environment: dev hands out its dummy keys.
    expect(first.env).toMatchObject({
      AWS_ENDPOINT_URL: outside.address,
      AWS_REGION: "eu-west-1",
      AWS_DEFAULT_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      SQS_EVENT_QUEUE_URL: first.eventQueueUrl,
      SQS_TASK_QUEUE_URL: first.taskQueueUrl,
    });
    expect(first.env.AWS_ENDPOINT_URL_S3).toBeUndefined();
    expect(await visibility(first, first.eventQueueUrl)).toBe("40");
    expect(await visibility(first, first.taskQueueUrl)).toBe("50");
    await first.s3.send(new HeadBucketCommand({ Bucket: SPECS_BUCKET }));

    // A second start finds everything in place: same queues, the new timeouts applied to them.
    const second = await startDevAws({ dataDir, port: 0, timeouts: { events: 70, tasks: 80 } });
    started.push(second);
    expect(second.eventQueueUrl).toBe(first.eventQueueUrl);
    expect(second.taskDlqUrl).toBe(first.taskDlqUrl);
    expect(await visibility(second, second.eventQueueUrl)).toBe("70");
    expect(await visibility(second, second.taskQueueUrl)).toBe("80");
  });

  it("AWS_ENDPOINT_URL_SQS and _S3 name separate endpoints; the environment's own keys are kept", async () => {
    // The same fauxqs under two spellings, so the two endpoints differ as strings.
    const s3 = outside.address.replace("127.0.0.1", "localhost");
    setEnv({
      AWS_ENDPOINT_URL_SQS: outside.address,
      AWS_ENDPOINT_URL_S3: s3,
      AWS_DEFAULT_REGION: "us-west-2",
      AWS_ACCESS_KEY_ID: "mine",
      AWS_SECRET_ACCESS_KEY: "secret",
    });
    const aws = await startDevAws({ dataDir, port: 0, timeouts: { events: 30, tasks: 30 } });
    started.push(aws);
    expect(aws.endpoint).toBe(outside.address);
    expect(aws.s3Endpoint).toBe(s3);
    expect(aws.region).toBe("us-west-2");
    expect(aws.env.AWS_ENDPOINT_URL).toBe(outside.address);
    expect(aws.env.AWS_ENDPOINT_URL_S3).toBe(s3);
    // Real credentials are never copied into dev's env (it holds no secrets).
    expect(aws.env.AWS_ACCESS_KEY_ID).toBeUndefined();
    expect(aws.env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    await aws.s3.send(new HeadBucketCommand({ Bucket: SPECS_BUCKET }));
  });

  it("an endpoint nothing answers on fails with AWS_SETUP_FAILED naming it", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    setEnv({ AWS_ENDPOINT_URL: dead });
    const err = await startDevAws({ dataDir, port: 0, timeouts: { events: 30, tasks: 30 } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DevError);
    expect((err as DevError).code).toBe("AWS_SETUP_FAILED");
    expect((err as DevError).message).toContain(dead);
  });
});

describe("dev's embedded SQS/S3 endpoint", () => {
  let dataDir: string;
  let blocker: Server | undefined;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    for (const key of AWS_VARS) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
    dataDir = await mkdtemp(join(tmpdir(), "stackseam-dev-aws-embedded-"));
  });

  afterAll(async () => {
    for (const key of AWS_VARS) if (saved[key] !== undefined) process.env[key] = saved[key];
    if (blocker) await new Promise((r) => blocker?.close(r));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("a taken --port is PORT_IN_USE with the way out", async () => {
    blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker?.listen(0, "127.0.0.1", () => {
        const addr = blocker?.address();
        resolve(typeof addr === "object" && addr ? addr.port : 0);
      }),
    );
    const err = await startDevAws({ dataDir, port, timeouts: { events: 30, tasks: 30 } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DevError);
    expect((err as DevError).code).toBe("PORT_IN_USE");
    expect((err as DevError).message).toContain(`port ${port}`);
    expect((err as DevError).message).toContain("--port 0");
  });

  it("any other failure to start it is AWS_SETUP_FAILED", async () => {
    const err = await startDevAws({ dataDir, port: 70_000, timeouts: { events: 30, tasks: 30 } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DevError);
    expect((err as DevError).code).toBe("AWS_SETUP_FAILED");
    expect((err as DevError).message).toMatch(/could not start the embedded SQS\/S3 endpoint/);
  });

  it("with a free port it runs fauxqs itself, with dummy keys and queue URLs on that port", async () => {
    const aws = await startDevAws({ dataDir, port: 0, timeouts: { events: 30, tasks: 30 } });
    try {
      expect(aws.embedded).toBe(true);
      const port = aws.endpoint.slice(aws.endpoint.lastIndexOf(":") + 1);
      expect(aws.eventQueueUrl).toContain(`:${port}/`);
      expect(aws.env.AWS_ACCESS_KEY_ID).toBe("test");
    } finally {
      await aws.stop();
    }
  });
});
