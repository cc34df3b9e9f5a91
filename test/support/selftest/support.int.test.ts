import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../aws.js";
import { createTestDatabase, type TestDatabase } from "../database.js";

describe("test support", () => {
  let aws: TestAws;
  let db: TestDatabase;
  beforeAll(async () => {
    aws = await startTestAws();
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await aws?.stop();
    await db?.drop();
  });

  it("round-trips a message through fauxqs on loopback", async () => {
    expect(aws.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.eventQueueUrl, MessageBody: "hello" }));
    const got = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.eventQueueUrl, WaitTimeSeconds: 1 }),
    );
    expect(got.Messages?.[0]?.Body).toBe("hello");
  });

  it("binds fauxqs to loopback only and hands out sqs.<region>.localhost queue URLs", async () => {
    const port = new URL(aws.endpoint).port;
    expect(aws.eventQueueUrl).toMatch(/^http:\/\/sqs\.us-east-1\.localhost:\d+\//);
    const { stdout } = await promisify(execFile)("ss", ["-ltnH", `sport = :${port}`]);
    expect(stdout).toContain(`127.0.0.1:${port}`);
    expect(stdout).not.toContain(`0.0.0.0:${port}`);
  });

  it("gives each test file its own database", async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const r = await c.query<{ db: string }>("select current_database() as db");
    await c.end();
    expect(r.rows[0]?.db).toMatch(/^stackseam_test_[0-9a-f]{12}$/);
  });
});
