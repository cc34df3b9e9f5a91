import { type Database, getHistory, openDatabase, prune } from "@stackseam/state-manager";
import type { Kysely } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import {
  completed,
  deliver,
  drainTasks,
  event,
  manager,
  mustGetStack,
  sqsRecord,
  tokenOf,
} from "./helpers.js";

const DAY = 86_400_000;

describe("prune", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let m: ReturnType<typeof manager>;
  let admin: pg.Client;
  // Prune runs on a connection of its own, as `stackseam prune` would.
  let pruner: Kysely<Database>;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    m = manager(database.url, aws.sqs, aws.taskQueueUrl);
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    pruner = openDatabase(database.url, { max: 1, applicationName: "stackseam-prune-test" });
  });
  afterAll(async () => {
    await admin?.end();
    await pruner?.destroy();
    await m?.close();
    await aws?.stop();
    await database?.drop();
  });

  /** LAUNCH and the completion of its tasks: the stack ends in RUN. */
  async function launched(id: string): Promise<void> {
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "qa-env" })));
    const stack = await mustGetStack(m.db, id);
    for (const task of stack.tasks)
      await deliver(m.sm, sqsRecord(completed(id, task.name, tokenOf(stack, task.name))));
    expect((await mustGetStack(m.db, id)).state).toBe("RUN");
  }

  it("applies an event again once its history row is pruned: retention is the idempotency window", async () => {
    await launched("pr-1");
    const touch = sqsRecord(event("pr-1", "TOUCH", { eventId: "touch-once", metadata: { n: 1 } }));
    await deliver(m.sm, touch);
    // Within the window a redelivery is a duplicate.
    await deliver(m.sm, { ...touch });
    let rows = (await getHistory(m.db, "pr-1")).filter((h) => h.eventKey === "touch-once");
    expect(rows.map((h) => [h.outcome, h.duplicate])).toEqual([
      ["applied", false],
      ["ignored", true],
    ]);

    // A day from now, a retention of an hour covers every row written so far.
    const result = await prune(pruner, { historyOlderThanMs: 3_600_000, now: new Date(Date.now() + DAY) });
    expect(result.deleted.history).toBeGreaterThanOrEqual(5);
    expect(await getHistory(m.db, "pr-1")).toEqual([]);

    // The same message again: nothing remembers it, so it is applied again.
    await deliver(m.sm, { ...touch });
    rows = await getHistory(m.db, "pr-1");
    expect(rows.map((h) => [h.eventKey, h.event, h.outcome, h.duplicate])).toEqual([
      ["touch-once", "TOUCH", "applied", false],
    ]);
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });

  it("deletes only what is past its retention, in small batches, while events flow", async () => {
    const now = Date.now();
    const old = new Date(now - 100 * DAY);
    // A year-old past: history rows, sent and unsent task messages, notifications in every state.
    await admin.query(
      `INSERT INTO history (stack_id, event, event_key, outcome, created_at)
       SELECT 'old-' || (n % 50), 'TOUCH', 'old-' || n, 'applied', $1::timestamptz + make_interval(secs => n)
       FROM generate_series(1, 3000) AS n`,
      [old],
    );
    await admin.query(
      `INSERT INTO outbox (stack_id, task, token, body, created_at, sent_at)
       VALUES ('old-1', 't', 'old-sent', '{}', $1, $1), ('old-1', 't', 'old-unsent', '{}', $1, NULL)`,
      [old],
    );
    await admin.query(
      `INSERT INTO notifications (stack_id, event_key, target, kind, destination, body, created_at, sent_at, failed_at)
       VALUES ('old-1', 'k1', 'hook', 'state-entered', '{}', '{}', $1, $1, NULL),
              ('old-1', 'k2', 'hook', 'state-entered', '{}', '{}', $1, NULL, $1),
              ('old-1', 'k3', 'hook', 'state-entered', '{}', '{}', $1, NULL, NULL)`,
      [old],
    );

    // Events for 20 new stacks, in batches, while prune runs again and again with tiny batches.
    const ids = Array.from({ length: 20 }, (_, i) => `flow-${i}`);
    let flowing = true;
    const pruning = (async () => {
      let runs = 0;
      const deleted = { history: 0, outbox: 0, notifications: 0 };
      while (flowing || runs === 0) {
        const r = await prune(pruner, {
          historyOlderThanMs: 90 * DAY,
          outboxOlderThanMs: 90 * DAY,
          notificationsOlderThanMs: 90 * DAY,
          batchSize: 97,
        });
        for (const t of ["history", "outbox", "notifications"] as const) deleted[t] += r.deleted[t];
        runs += 1;
      }
      return { runs, deleted };
    })();
    for (let i = 0; i < ids.length; i += 5) {
      const group = ids.slice(i, i + 5);
      await deliver(m.sm, ...group.map((id) => sqsRecord(event(id, "LAUNCH", { machine: "qa-env" }))));
      const stacks = await Promise.all(group.map((id) => mustGetStack(m.db, id)));
      await deliver(
        m.sm,
        ...stacks.flatMap((s) => s.tasks.map((t) => sqsRecord(completed(s.id, t.name, t.token)))),
      );
      await deliver(m.sm, ...group.map((id) => sqsRecord(event(id, "TOUCH", { metadata: { i } }))));
    }
    flowing = false;
    const pruned = await pruning;
    expect(pruned.runs).toBeGreaterThan(0);
    expect(pruned.deleted).toEqual({ history: 3000, outbox: 1, notifications: 2 });

    // Every event that flowed meanwhile kept its row; the stacks moved as they should.
    for (const id of ids) {
      expect((await mustGetStack(m.db, id)).state).toBe("RUN");
      const rows = await getHistory(m.db, id);
      expect(rows.map((h) => h.event)).toEqual(["LAUNCH", "TASK_COMPLETED", "TASK_COMPLETED", "TOUCH"]);
    }
    const left = await admin.query(
      `SELECT (SELECT count(*) FROM history WHERE stack_id LIKE 'old-%')::int AS history,
              (SELECT array_agg(token ORDER BY token) FROM outbox WHERE stack_id = 'old-1') AS outbox,
              (SELECT array_agg(event_key ORDER BY event_key) FROM notifications WHERE stack_id = 'old-1') AS notifications,
              (SELECT count(*) FROM outbox WHERE stack_id LIKE 'flow-%')::int AS flowOutbox`,
    );
    expect(left.rows[0]).toEqual({
      history: 0,
      outbox: ["old-unsent"],
      notifications: ["k3"],
      flowoutbox: 40,
    });
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });
});
