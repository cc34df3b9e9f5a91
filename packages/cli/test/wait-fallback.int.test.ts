import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import {
  completed,
  deliver,
  event,
  manager,
  mustGetStack,
  sqsRecord,
  tokenOf,
} from "../../state-manager/test/helpers.js";
import { waitForStack } from "../src/watch/wait.js";

// A database whose migrations stop before 003 (no history notifications): waits still work, by
// polling, and say so.

describe("wait on a database without the notify trigger", { timeout: 60_000 }, () => {
  let database: TestDatabase;
  let aws: TestAws;
  let m: ReturnType<typeof manager>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const c = new pg.Client({ connectionString: database.url });
    await c.connect();
    await c.query("DROP TRIGGER history_notify ON history");
    await c.end();
    aws = await startTestAws();
    m = manager(database.url, aws.sqs, aws.taskQueueUrl);
  });
  afterAll(async () => {
    await m?.close();
    await aws?.stop();
    await database?.drop();
  });

  it("polls, notes why, and still sees the stack settle", async () => {
    const notes: string[] = [];
    let waiting: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    const result = waitForStack({
      databaseUrl: database.url,
      stackId: "p-1",
      state: "RUN",
      timeoutMs: 50_000,
      pollMs: 50,
      onNote: (t) => notes.push(t),
      onProgress: (line) => {
        if (line.text.startsWith("waiting:")) waiting();
      },
    });
    await started;
    await deliver(m.sm, sqsRecord(event("p-1", "LAUNCH", { machine: "qa-env" })));
    for (const task of ["apply-infra", "seed-data"])
      await deliver(m.sm, sqsRecord(completed("p-1", task, tokenOf(await mustGetStack(m.db, "p-1"), task))));
    const r = await result;
    expect(r).toMatchObject({ result: "settled", mode: "poll" });
    expect(r.stack?.state).toBe("RUN");
    expect(notes).toEqual([
      expect.stringContaining("no history notifications (migration 003_history_notify.sql)"),
    ]);
  });
});
