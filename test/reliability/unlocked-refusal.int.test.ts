import { SQSClient } from "@aws-sdk/client-sqs";
import {
  createPool,
  createStateManager,
  databaseFromPool,
  localMachineSource,
} from "@stackseam/state-manager";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { toRecord } from "./support/event-queue.js";
import { loadMachines, MACHINE_DIR } from "./support/machines.js";
import { modelCheck } from "./support/model-check.js";
import { referenceCheck } from "./support/reference-check.js";
import { silentLogger } from "./support/workers.js";

// Both replay checks exempt one kind of row, on a history the real engine wrote: an event for a
// stack that does not exist is refused without a row lock (there is no row to lock), so it can be
// numbered after a concurrent first event that created the stack again. A full stress run met it
// (AGAIN naming its machine, refused by INIT, numbered after the START that re-created the stack)
// and core's replay, whose exemption covered only events naming no machine, reported a mismatch.
// The race cannot be timed from outside the engine, so its row is the engine's own refusal of the
// same event for a stack that does not exist, moved onto the re-created stack's id: what the race
// writes. A row the no-stack decision would not have written must still be a mismatch.

describe("reliability checks: a refusal decided on no stack, numbered after the stack's re-creation", () => {
  let aws: TestAws;
  let database: TestDatabase;
  let pool: pg.Pool;
  let observer: pg.Pool;
  let sqs: SQSClient;
  let sm: ReturnType<typeof createStateManager>;
  const bodies = new Map<string, string>();
  let sent = 0;

  const send = async (message: Record<string, unknown>): Promise<void> => {
    const body = JSON.stringify(message);
    const messageId = `m-${++sent}`;
    bodies.set(messageId, body);
    const out = await sm.processRecords([
      toRecord({ messageId, body, key: messageId, stackId: null, visibleAt: 0, receiveCount: 1 }),
    ]);
    expect(out.batchItemFailures).toEqual([]);
  };

  /** The engine's refusal of `message` for a stack that does not exist, written under `stackId`'s id. */
  const raceRow = async (stackId: string, message: Record<string, unknown>): Promise<void> => {
    const absent = `${stackId}-absent`;
    await send({ ...message, stackId: absent, eventId: `${message.eventId}-absent` });
    const { rowCount } = await observer.query(
      `INSERT INTO history (stack_id, machine, event, event_key, outcome, reason, from_state, to_state, path, task, token, detail)
       SELECT $1, machine, event, $2, outcome, reason, from_state, to_state, path, task, token, detail
       FROM history WHERE stack_id = $3 AND event_key = $4`,
      [stackId, message.eventId, absent, `${message.eventId}-absent`],
    );
    expect(rowCount).toBe(1);
    bodies.set(`race-${stackId}`, JSON.stringify({ ...message, stackId }));
  };

  const checks = async () => {
    const run = {
      bodies,
      redrivenAs: new Map<string, string>(),
      taskDeliveries: new Map<string, ReadonlySet<string>>(),
      taskBodies: new Map<string, string>(),
      deadLetteredTasks: new Set<string>(),
    };
    const machines = loadMachines();
    const specs = new Map([...machines].map(([name, m]) => [name, m.spec]));
    return {
      replay: await modelCheck(observer, machines, run),
      reference: await referenceCheck(observer, specs, run),
    };
  };

  /** A corners stack's life up to its re-creation: START, ABORT (removes it), START again. */
  const recreated = async (id: string): Promise<void> => {
    await send({ stackId: id, machine: "corners", event: "START", eventId: `${id}-start-1` });
    await send({ stackId: id, event: "ABORT", eventId: `${id}-abort` });
    await send({ stackId: id, machine: "corners", event: "START", eventId: `${id}-start-2` });
    const { rows } = await observer.query("SELECT state FROM stacks WHERE id = $1", [id]);
    expect(rows).toEqual([{ state: "WORK" }]);
  };

  beforeAll(async () => {
    aws = await startTestAws();
    database = await createTestDatabase();
    pool = createPool(database.url, { max: 2 });
    observer = new pg.Pool({ connectionString: database.url, max: 2 });
    sqs = new SQSClient({ endpoint: aws.endpoint, region: aws.region, credentials: TEST_CREDENTIALS });
    sm = createStateManager({
      db: databaseFromPool(pool),
      sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines: localMachineSource({ dir: MACHINE_DIR }),
      logger: silentLogger(),
      concurrency: 1,
    });
  });
  afterAll(async () => {
    await sm?.close();
    await pool?.end();
    await observer?.end();
    sqs?.destroy();
    await database?.drop();
    await aws?.stop();
  });

  it("the engine's own refusal, numbered after the re-creation: no mismatch in either check", async () => {
    await recreated("corner-1");
    await raceRow("corner-1", { machine: "corners", event: "AGAIN", eventId: "corner-1-again" });
    const { rows } = await observer.query(
      "SELECT event, outcome, from_state, reason FROM history WHERE stack_id = 'corner-1' ORDER BY id DESC LIMIT 1",
    );
    expect(rows).toEqual([
      { event: "AGAIN", outcome: "refused", from_state: null, reason: expect.stringContaining("INIT") },
    ]);
    const { replay, reference } = await checks();
    expect(replay.mismatchSamples).toEqual([]);
    expect(reference.mismatchSamples).toEqual([]);
    expect(replay.unlockedRefusals).toBe(1);
    expect(reference.unlockedRefusals).toBe(1);
  });

  it("a refusal on no stack that the no-stack decision would not make is still a mismatch", async () => {
    await recreated("corner-2");
    // START naming its machine creates a missing stack: a row saying it was refused on no stack is wrong.
    await raceRow("corner-2", { machine: "corners", event: "AGAIN", eventId: "corner-2-again" });
    await observer.query(
      "UPDATE history SET event = 'START' WHERE stack_id = 'corner-2' AND event_key = 'corner-2-again'",
    );
    bodies.set(
      "race-corner-2",
      JSON.stringify({ stackId: "corner-2", machine: "corners", event: "START", eventId: "corner-2-again" }),
    );
    const { replay, reference } = await checks();
    expect(replay.mismatchSamples).toEqual([expect.stringContaining("corner-2 row")]);
    expect(reference.mismatchSamples).toEqual([expect.stringContaining("corner-2 row")]);
  });
});
