import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createLambdaHandler, getStack, openDatabase } from "@stackseam/state-manager";
import type { Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { drainTasks, event, FIXTURES, sqsRecord } from "./helpers.js";

const context = { awsRequestId: "req-1", functionName: "stackseam-state-manager" } as Context;

describe("the Lambda handler, configured from the environment", () => {
  let database: TestDatabase;
  let aws: TestAws;
  const secrets = mockClient(SecretsManagerClient);

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
  });
  afterEach(() => {
    secrets.reset();
    vi.unstubAllEnvs();
  });

  /** The handler reads process.env, as in Lambda; the AWS SDK takes credentials from there too. */
  function environment(vars: Record<string, string>): void {
    for (const name of [
      "DATABASE_URL",
      "POSTGRES_CONNECTION_SECRET",
      "SQS_TASK_QUEUE_URL",
      "SQS_EVENT_QUEUE_URL",
    ]) {
      vi.stubEnv(name, undefined);
    }
    for (const [name, value] of Object.entries({ POWERTOOLS_LOG_LEVEL: "SILENT", ...vars }))
      vi.stubEnv(name, value);
  }
  afterAll(async () => {
    secrets.restore();
    await aws?.stop();
    await database?.drop();
  });

  it("reads the database credentials from Secrets Manager once per container", async () => {
    const url = new URL(database.url);
    secrets.on(GetSecretValueCommand, { SecretId: "stackseam/db" }).resolves({
      SecretString: JSON.stringify({
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        host: url.hostname,
        port: Number(url.port || 5432),
        dbname: url.pathname.slice(1),
      }),
    });
    environment({
      ...aws.env,
      POSTGRES_CONNECTION_SECRET: "stackseam/db",
      POSTGRES_SSL: "disable",
      MACHINE_LOCATOR: "LOCAL_FS",
      MACHINE_SPEC_DIR: FIXTURES,
    });
    const handler = createLambdaHandler();
    const first = await handler(
      { Records: [sqsRecord(event("env-1", "LAUNCH", { machine: "qa-env" }))] },
      context,
    );
    const second = await handler(
      { Records: [sqsRecord(event("env-2", "LAUNCH", { machine: "fanout" }))] },
      context,
    );
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);

    const db = openDatabase(database.url);
    try {
      expect((await getStack(db, "env-1"))?.state).toBe("PROVISION");
      expect((await getStack(db, "env-2"))?.state).toBe("BUILD");
    } finally {
      await db.destroy();
    }
    // Task messages reached the queue through the standard AWS_ENDPOINT_URL variable.
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toHaveLength(7);
  });

  it("fails every invocation with one error listing all configuration problems, until fixed", async () => {
    environment({ MACHINE_LOCATOR: "S3" });
    const handler = createLambdaHandler();
    const records = { Records: [sqsRecord(event("env-3", "LAUNCH", { machine: "qa-env" }))] };
    const failure = handler(records, context);
    await expect(failure).rejects.toThrow(/3 problems/);
    await expect(failure).rejects.toThrow(/SQS_TASK_QUEUE_URL[\s\S]*MACHINE_S3_BUCKET[\s\S]*DATABASE_URL/);
    environment({
      ...aws.env,
      DATABASE_URL: database.url,
      MACHINE_LOCATOR: "LOCAL_FS",
      MACHINE_SPEC_DIR: FIXTURES,
    });
    expect((await handler(records, context)).batchItemFailures).toEqual([]);
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toHaveLength(2);
  });

  it("retries reading the secret on the next invocation when it failed", async () => {
    secrets.on(GetSecretValueCommand).rejectsOnce(new Error("throttled")).resolves({ SecretString: "{}" });
    environment({
      ...aws.env,
      POSTGRES_CONNECTION_SECRET: "stackseam/db",
      MACHINE_LOCATOR: "LOCAL_FS",
      MACHINE_SPEC_DIR: FIXTURES,
    });
    const handler = createLambdaHandler();
    const records = { Records: [sqsRecord(event("env-4", "LAUNCH", { machine: "qa-env" }))] };
    await expect(handler(records, context)).rejects.toThrow(/cannot read secret stackseam\/db: throttled/);
    await expect(handler(records, context)).rejects.toThrow(/lacks username, password, host/);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});
