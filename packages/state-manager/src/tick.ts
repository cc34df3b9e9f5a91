// Orchestration layer: the tick. Run every minute (an EventBridge Scheduler target, `stackseam
// tick`, or every second in dev), it fires what is due — stack timers and machine schedules —
// through the same path as an SQS event (applyEvent: lock, decision, history, outbox), and re-sends
// outbox rows that stayed unsent, and sends the notifications that are due (retries, and what a
// batch left). Its run time is bounded; what it leaves, the next tick does.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { type Deps, type EngineEvent, nextOccurrence } from "@stackseam/core";
import { type Kysely, sql } from "kysely";
import { applyEvent, type EngineContext, engineContext } from "./apply-event.js";
import { groupInOrder, runBounded } from "./batch.js";
import { createLogger } from "./logger.js";
import type { MachineSource } from "./machine-source.js";
import { createNotifier, type Notifier } from "./notify/notifier.js";
import { flushStacks } from "./outbox.js";
import type { Database } from "./schema.js";

export interface TickOptions {
  db: Kysely<Database>;
  sqs: SQSClient;
  taskQueueUrl: string;
  machines: MachineSource;
  logger?: Logger;
  deps: Deps;
  /** Timers claimed per round (default 200). */
  batchSize?: number;
  /** How long a claimed timer or schedule is left to this tick before another may take it (default 2 min). */
  leaseMs?: number;
  /** Outbox rows unsent for longer than this are re-sent (default 2 min). */
  stuckOutboxMs?: number;
  /** Stacks worked on at once (default 2: each holds a pooled connection). */
  concurrency?: number;
  /** Fire the machines' cron schedules (default true; dev can leave them out). */
  schedules?: boolean;
  /** Sends due notifications (default: one with default AWS clients, made on first use). */
  notifier?: Notifier;
}

/** What one tick did. */
export interface TickResult {
  timersFired: number;
  /** Claimed timers whose stack had moved on (ignored, and their rows dropped). */
  timersStale: number;
  timersFailed: number;
  scheduleEvents: number;
  schedulesCompleted: number;
  outboxResent: number;
  /** The budget ran out before everything due was done (the next tick continues). */
  outOfTime: boolean;
  ms: number;
}

export interface Tick {
  /** Fires what is due, for at most `budgetMs` (default 50 s) of claiming new work. */
  run(budgetMs?: number): Promise<TickResult>;
}

interface DueTimer {
  stack_id: string;
  name: string;
  due_at: Date;
}

interface DueSchedule {
  machine: string;
  name: string;
  cron: string;
  timezone: string;
  event: string;
  states: string[];
  next_at: Date;
  cursor: string | null;
}

/** A tick over the State Manager's database, queues and specs. */
export function createTick(opts: TickOptions): Tick {
  const logger = opts.logger ?? createLogger();
  const ctx: EngineContext = engineContext(opts.db, opts.machines, opts.deps);
  const batchSize = opts.batchSize ?? 200;
  const leaseMs = opts.leaseMs ?? 120_000;
  const concurrency = opts.concurrency ?? 2;
  const outbox = { db: opts.db, sqs: opts.sqs, queueUrl: opts.taskQueueUrl };
  const notifier = opts.notifier ?? createNotifier({ db: opts.db, logger, deps: opts.deps });

  async function run(budgetMs = 50_000): Promise<TickResult> {
    const started = performance.now();
    const left = () => budgetMs - (performance.now() - started);
    const result: TickResult = {
      timersFired: 0,
      timersStale: 0,
      timersFailed: 0,
      scheduleEvents: 0,
      schedulesCompleted: 0,
      outboxResent: 0,
      outOfTime: false,
      ms: 0,
    };
    const reached = new Set<string>();
    await fireTimers(result, reached, left);
    if (opts.schedules !== false) {
      await syncSchedules();
      await fireSchedules(result, reached, left);
    }
    const flushed = await flushStacks(outbox, reached);
    if (flushed.error)
      logger.error("task messages not sent; the next tick re-sends them", { error: flushed.error });
    result.outboxResent = await resendStuck();
    await notifier.sendDue(left());
    result.ms = Math.round(performance.now() - started);
    logger.info("tick done", { ...result });
    return result;
  }

  /** Claims due timers in rounds and fires them, one stack's in due order, stacks concurrently. */
  async function fireTimers(result: TickResult, reached: Set<string>, left: () => number) {
    for (;;) {
      if (left() <= 0) {
        result.outOfTime = true;
        return;
      }
      const now = opts.deps.now();
      const { rows } = await sql<DueTimer>`
        UPDATE timers SET claimed_until = ${new Date(now.getTime() + leaseMs)}
        WHERE (stack_id, name) IN (
          SELECT stack_id, name FROM timers
          WHERE due_at <= ${now} AND (claimed_until IS NULL OR claimed_until < ${now})
          ORDER BY due_at LIMIT ${batchSize}
          FOR UPDATE SKIP LOCKED)
        RETURNING stack_id, name, due_at`.execute(opts.db);
      if (rows.length === 0) return;
      rows.sort((a, b) => a.due_at.getTime() - b.due_at.getTime());
      await runBounded(
        groupInOrder(rows, (r) => r.stack_id),
        concurrency,
        async (timers) => {
          for (const timer of timers) await fireTimer(timer, result, reached);
        },
      );
      if (rows.length < batchSize) return;
    }
  }

  async function fireTimer(timer: DueTimer, result: TickResult, reached: Set<string>) {
    const dueAt = timer.due_at.toISOString();
    const event: EngineEvent = {
      name: "TIMER",
      stackId: timer.stack_id,
      // Two ticks that fire the same timer make one event: the second is a duplicate.
      key: `timer:${timer.name}:${dueAt}`,
      timer: { name: timer.name, dueAt },
    };
    try {
      const done = await applyEvent(ctx, event);
      if (done.unsent) reached.add(timer.stack_id);
      if (done.outcome === "applied") {
        result.timersFired += 1;
        logger.info("timer fired", {
          stackId: timer.stack_id,
          timer: timer.name,
          dueAt,
          to: done.to,
          note: done.reason,
        });
        return;
      }
      result.timersStale += 1;
      // Nothing was written for it: drop the row as read, unless the stack has moved it since.
      await opts.db
        .deleteFrom("timers")
        .where("stack_id", "=", timer.stack_id)
        .where("name", "=", timer.name)
        .where("due_at", "=", timer.due_at)
        .execute();
    } catch (error) {
      // Its claim runs out and a later tick fires it again.
      result.timersFailed += 1;
      logger.error("timer could not be fired; a later tick retries it", {
        stackId: timer.stack_id,
        timer: timer.name,
        error: error as Error,
      });
    }
  }

  /** Makes the schedules table match the schedules of the current specs (a changed pattern gets a new next time). */
  async function syncSchedules() {
    let machines: Awaited<ReturnType<MachineSource["all"]>>;
    try {
      machines = await opts.machines.all();
    } catch (error) {
      logger.warn("machine specs could not be read; schedules stay as they were", { error: error as Error });
      return;
    }
    const now = opts.deps.now();
    for (const [name, lookup] of machines) {
      // An invalid spec keeps its schedules as they were until it is fixed.
      if (!lookup.ok) continue;
      const schedules = lookup.machine.spec.schedules ?? [];
      const names = schedules.map((s, i) => s.name ?? `schedule-${i + 1}`);
      for (const [i, schedule] of schedules.entries()) {
        const timezone = schedule.timezone ?? "UTC";
        const next = nextOccurrence(schedule.cron, timezone, now);
        if (!next) continue;
        await sql`
          INSERT INTO schedules (machine, name, cron, timezone, event, states, next_at)
          VALUES (${name}, ${names[i]}, ${schedule.cron}, ${timezone}, ${schedule.event}, ${schedule.states}::text[], ${next})
          ON CONFLICT (machine, name) DO UPDATE SET
            event = EXCLUDED.event, states = EXCLUDED.states, cron = EXCLUDED.cron, timezone = EXCLUDED.timezone,
            next_at = CASE WHEN schedules.cron = EXCLUDED.cron AND schedules.timezone = EXCLUDED.timezone
                           THEN schedules.next_at ELSE EXCLUDED.next_at END,
            cursor = CASE WHEN schedules.cron = EXCLUDED.cron AND schedules.timezone = EXCLUDED.timezone
                          THEN schedules.cursor ELSE NULL END
          WHERE (schedules.event, schedules.states, schedules.cron, schedules.timezone)
                IS DISTINCT FROM (EXCLUDED.event, EXCLUDED.states, EXCLUDED.cron, EXCLUDED.timezone)`.execute(
          opts.db,
        );
      }
      await opts.db
        .deleteFrom("schedules")
        .where("machine", "=", name)
        .$if(names.length > 0, (q) => q.where("name", "not in", names))
        .execute();
    }
    const known = [...machines.keys()];
    await opts.db
      .deleteFrom("schedules")
      .$if(known.length > 0, (q) => q.where("machine", "not in", known))
      .execute();
  }

  /**
   * Fires each due schedule occurrence: its event goes to every stack of the machine in its states,
   * keyed by the occurrence so that each stack takes it once, however many ticks try. Missed
   * occurrences (no tick ran) coalesce into one; a stack that comes and goes in between is missed.
   */
  async function fireSchedules(result: TickResult, reached: Set<string>, left: () => number) {
    const now = opts.deps.now();
    const { rows } = await sql<DueSchedule>`
      UPDATE schedules SET claimed_until = ${new Date(now.getTime() + leaseMs)}
      WHERE (machine, name) IN (
        SELECT machine, name FROM schedules
        WHERE next_at <= ${now} AND (claimed_until IS NULL OR claimed_until < ${now})
        FOR UPDATE SKIP LOCKED)
      RETURNING machine, name, cron, timezone, event, states, next_at, cursor`.execute(opts.db);
    for (const schedule of rows) {
      const occurrence = schedule.next_at.toISOString();
      let cursor = schedule.cursor ?? "";
      let complete = true;
      for (;;) {
        if (left() <= 0) {
          result.outOfTime = true;
          await sql`UPDATE schedules SET cursor = ${cursor}, claimed_until = NULL
                    WHERE machine = ${schedule.machine} AND name = ${schedule.name}`.execute(opts.db);
          return;
        }
        const page = await opts.db
          .selectFrom("stacks")
          .select("id")
          .where("machine", "=", schedule.machine)
          .where("state", "in", schedule.states)
          .where("id", ">", cursor)
          .orderBy("id")
          .limit(100)
          .execute();
        if (page.length === 0) break;
        let failed = false;
        await runBounded(page, concurrency, async ({ id }) => {
          const event: EngineEvent = {
            name: schedule.event,
            stackId: id,
            key: `schedule:${schedule.machine}:${schedule.name}:${occurrence}`,
            scheduled: { name: schedule.name, occurrence },
          };
          try {
            const done = await applyEvent(ctx, event);
            if (done.unsent) reached.add(id);
            result.scheduleEvents += 1;
          } catch (error) {
            failed = true;
            logger.error("scheduled event failed; a later tick takes the occurrence up again", {
              stackId: id,
              schedule: schedule.name,
              error: error as Error,
            });
          }
        });
        // Its claim runs out; the next tick resumes from the last page that fully went through.
        if (failed) {
          await sql`UPDATE schedules SET cursor = ${cursor}
                    WHERE machine = ${schedule.machine} AND name = ${schedule.name}`.execute(opts.db);
          complete = false;
          break;
        }
        cursor = page.at(-1)!.id;
      }
      // Not done with this occurrence: it keeps its time and cursor for a later tick.
      if (!complete) continue;
      const next = nextOccurrence(
        schedule.cron,
        schedule.timezone,
        new Date(Math.max(now.getTime(), schedule.next_at.getTime())),
      );
      await sql`UPDATE schedules SET next_at = ${next ?? "infinity"}, cursor = NULL, claimed_until = NULL
                WHERE machine = ${schedule.machine} AND name = ${schedule.name}`.execute(opts.db);
      result.schedulesCompleted += 1;
      logger.info("schedule fired", { machine: schedule.machine, schedule: schedule.name, occurrence, next });
    }
  }

  /** Re-sends outbox rows whose send failed past every retry of their event (SQS gave up on it). */
  async function resendStuck(): Promise<number> {
    const before = new Date(opts.deps.now().getTime() - (opts.stuckOutboxMs ?? 120_000));
    const rows = await opts.db
      .selectFrom("outbox")
      .select("stack_id")
      .distinct()
      .where("sent_at", "is", null)
      .where("created_at", "<", before)
      .limit(500)
      .execute();
    if (rows.length === 0) return 0;
    const flushed = await flushStacks(
      outbox,
      rows.map((r) => r.stack_id),
    );
    if (flushed.error) logger.error("stuck task messages still not sent", { error: flushed.error });
    else logger.warn("re-sent task messages left unsent", { stacks: rows.length, sent: flushed.sent });
    return flushed.sent;
  }

  return { run };
}
