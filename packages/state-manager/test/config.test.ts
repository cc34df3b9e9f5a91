import { ConfigError, loadConfig, urlFromSecret } from "@stackseam/state-manager";
import { describe, expect, it } from "vitest";

const QUEUE = "http://sqs.us-east-1.localhost:4566/000000000000/stackseam-tasks";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("lists every missing variable in one error", () => {
    const found = problems({});
    expect(found).toHaveLength(3);
    expect(found.join("\n")).toMatch(/SQS_TASK_QUEUE_URL/);
    expect(found.join("\n")).toMatch(/MACHINE_LOCATOR/);
    expect(found.join("\n")).toMatch(/POSTGRES_CONNECTION_SECRET .* DATABASE_URL/);
    try {
      loadConfig({});
    } catch (err) {
      expect((err as Error).message).toMatch(/3 problems/);
      expect((err as ConfigError).code).toBe("CONFIG");
    }
  });

  it("lists every invalid value too", () => {
    const found = problems({
      SQS_TASK_QUEUE_URL: "stackseam-tasks",
      SQS_EVENT_QUEUE_URL: "events",
      MACHINE_LOCATOR: "LOCAL_FS",
      MACHINE_SPEC_DIR: "specs",
      DATABASE_URL: "mysql://x",
      MACHINE_CACHE_TTL_SECONDS: "soon",
      POSTGRES_POOL_MAX: "0",
      POSTGRES_SSL: "maybe",
      AWS_ENDPOINT_URL: "localhost:4566",
    });
    expect(found.map((p) => p.split(" ")[0])).toEqual([
      "SQS_TASK_QUEUE_URL",
      "SQS_EVENT_QUEUE_URL",
      "MACHINE_SPEC_DIR",
      "DATABASE_URL",
      "MACHINE_CACHE_TTL_SECONDS",
      "POSTGRES_POOL_MAX",
      "POSTGRES_SSL",
      "AWS_ENDPOINT_URL",
    ]);
  });

  it("names the locator's own variables when they are missing", () => {
    expect(
      problems({ SQS_TASK_QUEUE_URL: QUEUE, MACHINE_LOCATOR: "S3", DATABASE_URL: "postgres://h/db" }),
    ).toEqual(["MACHINE_S3_BUCKET is not set (required when MACHINE_LOCATOR=S3)"]);
    expect(
      problems({ SQS_TASK_QUEUE_URL: QUEUE, MACHINE_LOCATOR: "FTP", DATABASE_URL: "postgres://h/db" }),
    ).toEqual(['MACHINE_LOCATOR must be S3 or LOCAL_FS, got "FTP"']);
    expect(
      problems({
        SQS_TASK_QUEUE_URL: QUEUE,
        MACHINE_LOCATOR: "LOCAL_FS",
        MACHINE_SPEC_DIR: "/specs",
        DATABASE_URL: "postgres://h/db",
        POSTGRES_CONNECTION_SECRET: "arn:aws:secretsmanager:eu-west-1:1:secret:db",
      }),
    ).toEqual(["set only one of POSTGRES_CONNECTION_SECRET and DATABASE_URL"]);
  });

  it("reads a complete S3 configuration with defaults and service-specific endpoints", () => {
    const config = loadConfig({
      SQS_TASK_QUEUE_URL: QUEUE,
      MACHINE_LOCATOR: "S3",
      MACHINE_S3_BUCKET: "specs",
      MACHINE_S3_KEY: "machines/",
      POSTGRES_CONNECTION_SECRET: "stackseam/db",
      AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000",
      AWS_REGION: "eu-west-1",
    });
    expect(config).toEqual({
      taskQueueUrl: QUEUE,
      locator: { kind: "S3", bucket: "specs", prefix: "machines/" },
      database: { kind: "secret", secretId: "stackseam/db" },
      cacheTtlSeconds: 30,
      poolMax: 3,
      endpoints: {
        sqs: "http://127.0.0.1:4566",
        s3: "http://127.0.0.1:9000",
        secretsManager: "http://127.0.0.1:4566",
        sns: "http://127.0.0.1:4566",
        eventBridge: "http://127.0.0.1:4566",
      },
      region: "eu-west-1",
      // docs/configuration.md: NOTIFICATION_TIMEOUT_MS, NOTIFICATION_BATCH_BUDGET_MS, NOTIFICATION_MAX_ATTEMPTS.
      notifications: { requestTimeoutMs: 2000, batchBudgetMs: 2000, maxAttempts: 10 },
    });
  });
});

describe("urlFromSecret", () => {
  it("builds a URL from the RDS secret shape, escaping the password", () => {
    const url = urlFromSecret(
      "db",
      JSON.stringify({
        username: "app",
        password: "p@ss/w:rd",
        host: "db.example",
        port: 5433,
        dbname: "stackseam",
        engine: "postgres",
      }),
    );
    expect(url).toBe("postgres://app:p%40ss%2Fw%3Ard@db.example:5433/stackseam");
  });

  it("names what is missing without showing values", () => {
    expect(() => urlFromSecret("db", JSON.stringify({ password: "hunter2" }))).toThrow(
      /lacks username, host/,
    );
    expect(() => urlFromSecret("db", JSON.stringify({ password: "hunter2" }))).not.toThrow(/hunter2/);
    expect(() => urlFromSecret("db", "hunter2")).toThrow(/not JSON/);
  });
});
