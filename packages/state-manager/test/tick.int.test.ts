import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Deps } from "@stackseam/core";
import {
  createPool,
  createStateManager,
  createTick,
  databaseFromPool,
  getHistory,
  localMachineSource,
  type MachineSource,
} from "@stackseam/state-manager";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { deliver, drainTasks, event, manager, mustGetStack, silentLogger, sqsRecord } from "./helpers.js";

const MINUTE = 60_000;

const TIMED = `version: 1
events: [LAUNCH, FREEZE, DESTROY, TOUCH]
ttl: { idle: 1h, event: DESTROY }
schedules:
  - name: evenings
    cron: "0 19 * * 1-5"
    timezone: Europe/Berlin
    event: FREEZE
    states: [RUN]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      TOUCH: [{ action: no-op }]
      FREEZE: [{ action: advance, state: FROZEN }]
      DESTROY: [{ action: advance, state: GONE }]
  FROZEN:
    on:
      TOUCH: [{ action: no-op }]
  GONE:
    terminal: true
tasks:
  apply:
    executor: lambda
    config: { name: apply }
    timeout: 5m
    retry: { attempts: 3, delay: 1m }
`;

/** A clock the test sets; the State Manager and the tick both read it. */
function testClock(start: number) {
  let now = start;
  let n = 0;
  const deps: Deps = {
    now: () => new Date(now),
    newToken: () => `tok-${++n}-${Math.random().toString(36).slice(2, 8)}`,
    random: () => 0.5,
  };
  return {
    deps,
    set(t: number) {
      now = t;
    },
    get: () => now,
  };
}

describe("the tick: timers and schedules through the event path", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dir: string;
  let machines: MachineSource;
  // Wednesday 2026-12-02, 10:00 UTC.
  const T0 = Date.parse("2026-12-02T10:00:00Z");
  const clock = testClock(T0);
  let m: ReturnType<typeof manager>;

  const tick = (db = m.db, sqs = aws.sqs) =>
    createTick({
      db,
      sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines,
      deps: clock.deps,
      logger: silentLogger(),
    });

  beforeAll(async () => {
    aws = await startTestAws();
    dir = await mkdtemp(join(tmpdir(), "stackseam-tick-"));
    await writeFile(join(dir, "timed.yml"), TIMED);
    machines = localMachineSource({ dir });
  });
  // Every test has its own database and an empty task queue: a tick fires every due timer it finds.
  beforeEach(async () => {
    database = await createTestDatabase();
    m = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines, deps: clock.deps });
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });
  afterEach(async () => {
    await m?.close();
    await database?.drop();
  });
  afterAll(async () => {
    await aws?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function launch(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 10) {
      await deliver(
        m.sm,
        ...ids.slice(i, i + 10).map((id) => sqsRecord(event(id, "LAUNCH", { machine: "timed" }))),
      );
    }
  }

  /** Applied firings of each stack's task timeout. */
  async function appliedTimerRows(prefix: string): Promise<Map<string, number>> {
    const rows = await m.db
      .selectFrom("history")
      .select(["stack_id", "outcome", "duplicate"])
      .where("event", "=", "TIMER")
      .where("event_key", "like", "timer:timeout:%")
      .where("stack_id", "like", `${prefix}%`)
      .execute();
    const applied = new Map<string, number>();
    for (const r of rows)
      if (r.outcome === "applied") applied.set(r.stack_id, (applied.get(r.stack_id) ?? 0) + 1);
    return applied;
  }

  it("a lost task message is timed out, retried after its backoff, and the stack reaches RUN with no person", async () => {
    clock.set(T0);
    await launch(["lost-1"]);
    // The task message is lost: nobody runs it, nobody reports.
    expect((await drainTasks(aws.sqs, aws.taskQueueUrl)).map((t) => t.stackId)).toEqual(["lost-1"]);

    clock.set(T0 + 6 * MINUTE);
    const first = await tick().run();
    expect(first.timersFired).toBe(1);
    const failed = await mustGetStack(m.db, "lost-1");
    expect(failed.tasks[0]).toMatchObject({ status: "ERROR", attempt: 1 });
    expect(failed.tasks[0]?.description).toMatch(/^timed out after 6m/);

    clock.set(T0 + 7 * MINUTE + 1000);
    await tick().run();
    const [again] = await drainTasks(aws.sqs, aws.taskQueueUrl);
    expect(again).toMatchObject({ stackId: "lost-1", task: "apply", attempt: 2 });
    expect(again?.deadline).toBe(new Date(T0 + 12 * MINUTE + 1000).toISOString());

    await deliver(
      m.sm,
      sqsRecord({ stackId: "lost-1", event: "TASK_COMPLETED", task: "apply", token: again!.token }),
    );
    expect((await mustGetStack(m.db, "lost-1")).state).toBe("RUN");
    const notes = (await getHistory(m.db, "lost-1"))
      .filter((h) => h.event === "TIMER")
      .map((h) => h.detail?.note);
    expect(notes).toEqual([
      "task apply timed out (attempt 1 of 3); retry in 1m",
      "retried task apply after its backoff (attempt 2 of 3)",
    ]);
  });

  it("two ticks running at once over 1,000 due timers fire each exactly once", async () => {
    clock.set(T0);
    const ids = Array.from({ length: 1000 }, (_, i) => `many-${String(i).padStart(4, "0")}`);
    await launch(ids);
    await drainTasks(aws.sqs, aws.taskQueueUrl);
    clock.set(T0 + 6 * MINUTE);
    const a = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines, deps: clock.deps });
    try {
      const [x, y] = await Promise.all([tick().run(), tick(a.db).run()]);
      expect(x.timersFired + y.timersFired).toBe(1000);
      expect(x.timersFired).toBeGreaterThan(0);
      expect(y.timersFired).toBeGreaterThan(0);
    } finally {
      await a.close();
    }
    const applied = await appliedTimerRows("many-");
    expect(applied.size).toBe(1000);
    expect([...applied.values()].every((n) => n === 1)).toBe(true);
  });

  it("a tick killed mid-run loses nothing: the next one fires the rest, each timer once", async () => {
    clock.set(T0);
    const ids = Array.from({ length: 60 }, (_, i) => `killed-${String(i).padStart(3, "0")}`);
    await launch(ids);
    await drainTasks(aws.sqs, aws.taskQueueUrl);
    clock.set(T0 + 6 * MINUTE);

    const admin = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
    await admin.connect();
    const appName = "stackseam-tick-killed";
    const pool = createPool(database.url, { max: 2, applicationName: appName });
    let statements = 0;
    pool.on("connect", (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        // Dies after a few dozen statements: some timers fired, some claimed but not fired.
        if (++statements === 40) {
          return admin
            .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
              appName,
            ])
            .then(() => query(...args));
        }
        return query(...args);
      };
    });
    const doomed = databaseFromPool(pool);
    try {
      await tick(doomed)
        .run()
        .catch(() => undefined);
    } finally {
      await doomed.destroy().catch(() => {});
      await admin.end();
    }
    const partial = await appliedTimerRows("killed-");
    expect(partial.size).toBeLessThan(60);

    // After the dead tick's claims ran out, the next tick fires the rest.
    clock.set(T0 + 9 * MINUTE);
    await tick().run();
    const applied = await appliedTimerRows("killed-");
    expect(applied.size).toBe(60);
    expect([...applied.values()].every((n) => n === 1)).toBe(true);
  });

  it("re-sends an outbox row whose send failed past every retry of its event", async () => {
    clock.set(T0);
    const broken = new SQSClient({
      endpoint: "http://127.0.0.1:1",
      region: aws.region,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    const db = databaseFromPool(createPool(database.url, { max: 2 }));
    const sm = createStateManager({
      db,
      sqs: broken,
      taskQueueUrl: aws.taskQueueUrl,
      machines,
      logger: silentLogger(),
      deps: clock.deps,
    });
    try {
      const res = await sm.processRecords([sqsRecord(event("stuck-1", "LAUNCH", { machine: "timed" }))]);
      // The event committed; its task message could not be sent. SQS would retry the record a few
      // times and then dead-letter it: nothing else ever comes for this stack.
      expect(res.batchItemFailures).toHaveLength(1);
    } finally {
      await sm.close();
      await db.destroy();
      broken.destroy();
    }
    expect(await drainTasks(aws.sqs, aws.taskQueueUrl)).toEqual([]);

    // Rows count as stuck after two minutes (by the tick's clock against the row's own time).
    clock.set(Date.now() + 3 * MINUTE);
    const result = await tick().run();
    expect(result.outboxResent).toBeGreaterThanOrEqual(1);
    const sent = await drainTasks(aws.sqs, aws.taskQueueUrl);
    expect(sent.map((t) => t.stackId)).toContain("stuck-1");
    clock.set(T0);
  });

  it("fires a schedule once per occurrence, however late or doubled the ticks", async () => {
    clock.set(T0);
    const ids = ["sched-a", "sched-b", "sched-c"];
    await launch(ids);
    for (const t of await drainTasks(aws.sqs, aws.taskQueueUrl)) {
      if (!t.stackId.startsWith("sched-")) continue;
      await deliver(
        m.sm,
        sqsRecord({ stackId: t.stackId, event: "TASK_COMPLETED", task: t.task, token: t.token }),
      );
    }
    // These stacks are kept from the machine's idle TTL, which would otherwise remove them first.
    for (const id of ids) await deliver(m.sm, sqsRecord(event(id, "EXTEND_TTL", { ttl: "never" })));
    await tick().run(); // registers the schedule: next 19:00 Berlin = 18:00 UTC
    const row = await m.db
      .selectFrom("schedules")
      .selectAll()
      .where("machine", "=", "timed")
      .executeTakeFirstOrThrow();
    expect(row.next_at.toISOString()).toBe("2026-12-02T18:00:00.000Z");

    // Ticks came late (18:07) and two at once.
    clock.set(Date.parse("2026-12-02T18:07:00Z"));
    await Promise.all([tick().run(), tick().run()]);
    for (const id of ids) {
      expect((await mustGetStack(m.db, id)).state).toBe("FROZEN");
      const freezes = (await getHistory(m.db, id)).filter((h) => h.event === "FREEZE");
      expect(freezes.filter((h) => h.outcome === "applied" && !h.duplicate)).toHaveLength(1);
    }
    const after = await m.db
      .selectFrom("schedules")
      .selectAll()
      .where("machine", "=", "timed")
      .executeTakeFirstOrThrow();
    expect(after.next_at.toISOString()).toBe("2026-12-03T18:00:00.000Z");

    // A later tick the same evening finds nothing due.
    clock.set(Date.parse("2026-12-02T21:00:00Z"));
    expect((await tick().run()).scheduleEvents).toBe(0);
  });

  it("a stack whose scheduled event fails keeps the occurrence open: a later tick delivers it", async () => {
    clock.set(T0);
    const ids = ["part-a", "part-b", "part-c"];
    await launch(ids);
    for (const t of await drainTasks(aws.sqs, aws.taskQueueUrl)) {
      await deliver(
        m.sm,
        sqsRecord({ stackId: t.stackId, event: "TASK_COMPLETED", task: t.task, token: t.token }),
      );
    }
    for (const id of ids) await deliver(m.sm, sqsRecord(event(id, "EXTEND_TTL", { ttl: "never" })));
    await tick().run(); // registers the schedule
    // Postgres itself refuses part-b's history rows, as a failing database would.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query(`CREATE FUNCTION refuse_part_b() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.stack_id = 'part-b' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`);
      await admin.query(
        "CREATE TRIGGER refuse_part_b BEFORE INSERT ON history FOR EACH ROW EXECUTE FUNCTION refuse_part_b()",
      );
      clock.set(Date.parse("2026-12-02T18:01:00Z"));
      await tick().run();
      expect((await mustGetStack(m.db, "part-a")).state).toBe("FROZEN");
      expect((await mustGetStack(m.db, "part-b")).state).toBe("RUN");
      const open = await m.db.selectFrom("schedules").selectAll().executeTakeFirstOrThrow();
      expect(open.next_at.toISOString()).toBe("2026-12-02T18:00:00.000Z");

      await admin.query("DROP TRIGGER refuse_part_b ON history");
      clock.set(Date.parse("2026-12-02T18:05:00Z")); // past the first tick's claim
      await tick().run();
    } finally {
      await admin.end();
    }
    for (const id of ids) {
      expect((await mustGetStack(m.db, id)).state).toBe("FROZEN");
      const freezes = (await getHistory(m.db, id)).filter((h) => h.event === "FREEZE");
      expect(freezes.filter((h) => h.outcome === "applied" && !h.duplicate)).toHaveLength(1);
    }
    const done = await m.db.selectFrom("schedules").selectAll().executeTakeFirstOrThrow();
    expect(done.next_at.toISOString()).toBe("2026-12-03T18:00:00.000Z");
  });

  it("an idle stack is destroyed by its TTL, on its own", async () => {
    clock.set(T0);
    await launch(["idle-1"]);
    const [task] = (await drainTasks(aws.sqs, aws.taskQueueUrl)).filter((t) => t.stackId === "idle-1");
    await deliver(
      m.sm,
      sqsRecord({ stackId: "idle-1", event: "TASK_COMPLETED", task: "apply", token: task!.token }),
    );
    clock.set(T0 + 30 * MINUTE);
    await deliver(m.sm, sqsRecord(event("idle-1", "TOUCH")));
    // Idle counts from the touch: at T0 + 1h nothing, at T0 + 1h30m the TTL fires.
    clock.set(T0 + 61 * MINUTE);
    await tick().run();
    expect((await mustGetStack(m.db, "idle-1")).state).toBe("RUN");
    clock.set(T0 + 91 * MINUTE);
    await tick().run();
    expect(
      await m.db.selectFrom("stacks").select("id").where("id", "=", "idle-1").executeTakeFirst(),
    ).toBeUndefined();
    const last = (await getHistory(m.db, "idle-1")).at(-1);
    expect(last).toMatchObject({ event: "TIMER", outcome: "applied", to: "GONE" });
    expect(last?.detail?.note).toBe("TTL idle for 1h: DESTROY");
  });
});
