import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHistory, localMachineSource } from "@stackseam/state-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { deliver, event, manager, mustGetStack, sqsRecord, tokenOf } from "./helpers.js";

const spec = (task: string) => `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: BUILD }]
  BUILD:
    tasks: [${task}]
    on:
      NEXT: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  ${task}:
    executor: lambda
    config: { name: ${task} }
`;

describe("a spec that changes under a stack", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dir: string;
  let m: ReturnType<typeof manager>;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    dir = await mkdtemp(join(tmpdir(), "stackseam-spec-change-"));
    await writeFile(join(dir, "build.yml"), spec("compile"));
    m = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines: localMachineSource({ dir }) });
  });
  afterAll(async () => {
    await m?.close();
    await aws?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses (and does not retry forever) a RETRY_FAILED_TASKS for a task the spec no longer defines", async () => {
    const id = "renamed-1";
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "build" })));
    const token = tokenOf(await mustGetStack(m.db, id), "compile");
    await deliver(
      m.sm,
      sqsRecord({ stackId: id, event: "TASK_ERROR", task: "compile", token, description: "boom" }),
    );

    const file = join(dir, "build.yml");
    await writeFile(file, spec("compile-v2"));
    const later = new Date(Date.now() + 5_000);
    await utimes(file, later, later);

    const res = await m.sm.processRecords([sqsRecord(event(id, "RETRY_FAILED_TASKS"))]);
    expect(res.batchItemFailures).toEqual([]);
    const last = (await getHistory(m.db, id)).at(-1);
    expect(last).toMatchObject({ event: "RETRY_FAILED_TASKS", outcome: "refused" });
    expect(last?.reason).toMatch(/no task compile/);
    expect((await mustGetStack(m.db, id)).tasks[0]).toMatchObject({ name: "compile", status: "ERROR" });
  });
});
