import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type DevInstance, resolveConnection } from "../src/connection.js";

const dev: DevInstance = {
  pid: process.pid,
  databaseUrl: "postgres://dev@127.0.0.1:5433/stackseam",
  endpoint: "http://127.0.0.1:4566",
  region: "us-east-1",
  eventQueueUrl: "http://sqs.us-east-1.localhost:4566/000000000000/stackseam-events",
  taskQueueUrl: "http://sqs.us-east-1.localhost:4566/000000000000/stackseam-tasks",
  bucket: "stackseam-specs",
  specsDir: "/tmp/specs",
  startedAt: "2026-11-22T00:00:00.000Z",
};

describe("resolveConnection", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "stackseam-conn-"));
    for (const k of [
      "DATABASE_URL",
      "SQS_EVENT_QUEUE_URL",
      "AWS_ENDPOINT_URL",
      "AWS_ENDPOINT_URL_SQS",
      "AWS_REGION",
    ])
      vi.stubEnv(k, undefined);
    vi.stubEnv("STACKSEAM_DATA_DIR", dir);
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await rm(dir, { recursive: true, force: true });
  });

  it("uses a running dev instance when nothing is configured", async () => {
    await writeFile(join(dir, "dev.json"), JSON.stringify(dev));
    expect(resolveConnection()).toEqual({
      source: "dev",
      databaseUrl: dev.databaseUrl,
      eventQueueUrl: dev.eventQueueUrl,
      endpoint: dev.endpoint,
      region: dev.region,
      credentials: { accessKeyId: "stackseam-dev", secretAccessKey: "stackseam-dev" },
      dev,
    });
  });

  it("never sends a user-given queue URL to the dev endpoint", async () => {
    await writeFile(join(dir, "dev.json"), JSON.stringify(dev));
    const queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/events";
    const conn = resolveConnection({ queueUrl: queue });
    expect(conn.eventQueueUrl).toBe(queue);
    expect(conn.endpoint).toBeUndefined();
    expect(conn.databaseUrl).toBe(dev.databaseUrl);
  });

  it("ignores a dev.json whose process is gone", async () => {
    await writeFile(join(dir, "dev.json"), JSON.stringify({ ...dev, pid: 2 ** 22 + 7 }));
    expect(resolveConnection()).toEqual({ source: "flags/env" });
  });
});
