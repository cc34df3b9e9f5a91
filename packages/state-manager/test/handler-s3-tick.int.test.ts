// The two Lambda entry points configured from the environment as deployed (docs/state-manager.md):
// specs from S3 (MACHINE_LOCATOR=S3) with the region and endpoints from the standard variables, and
// the tick (`index.tick`), which works within the Lambda's remaining time.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { createLambdaHandler, createTickHandler, getStack, openDatabase } from "@stackseam/state-manager";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { drainTasks, event, FIXTURES, sqsRecord } from "./helpers.js";

const context = (remainingMs: number) =>
  ({
    awsRequestId: "req-1",
    functionName: "stackseam-state-manager",
    getRemainingTimeInMillis: () => remainingMs,
  }) as Context;

describe("the entry points with specs in S3", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws({ bucket: "acme-stackseam-specs" });
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: aws.bucket,
        Key: "machines/qa-env.yml",
        Body: await readFile(join(FIXTURES, "qa-env.yml"), "utf8"),
      }),
    );
    env = {
      ...aws.env,
      POWERTOOLS_LOG_LEVEL: "SILENT",
      DATABASE_URL: database.url,
      MACHINE_LOCATOR: "S3",
      MACHINE_S3_BUCKET: aws.bucket,
      MACHINE_S3_KEY: "machines",
    };
    // The SDK takes credentials from the process, as in Lambda.
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  });
  afterEach(async () => {
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await aws?.stop();
    await database?.drop();
  });

  it("decides events with the machine read from the bucket", async () => {
    const handler = createLambdaHandler();
    const res = await handler(
      { Records: [sqsRecord(event("s3-env-1", "LAUNCH", { machine: "qa-env" }))] },
      context(60_000),
    );
    expect(res.batchItemFailures).toEqual([]);
    const db = openDatabase(database.url);
    try {
      expect((await getStack(db, "s3-env-1"))?.state).toBe("PROVISION");
    } finally {
      await db.destroy();
    }
    expect((await drainTasks(aws.sqs, aws.taskQueueUrl)).length).toBeGreaterThan(0);
  });

  it("the tick runs with or without a Lambda context, and reports what it did", async () => {
    const tick = createTickHandler(() => env);
    const withContext = await tick({}, context(30_000));
    expect(withContext).toMatchObject({ timersFailed: 0, outOfTime: false });
    // A context with almost no time left still gets a second of claiming, not none.
    expect(await tick({}, context(0))).toMatchObject({ timersFailed: 0 });
    expect(await tick({})).toMatchObject({ timersFailed: 0, outOfTime: false });
  });
});
