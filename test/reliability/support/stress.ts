import { randomUUID } from "node:crypto";
import type { Machine, Scalar } from "@stackseam/core";
import pg from "pg";
import type { TestAws } from "../../support/aws.js";
import { EventQueue, type QueueStats } from "./event-queue.js";
import { handledEvents, loadMachines, MACHINE_NAMES, type PlannedEvent, randomLife } from "./machines.js";
import { type ModelReport, modelCheck } from "./model-check.js";
import { pause, Rng } from "./random.js";
import { type SatisfierStats, SimulatedSatisfier } from "./satisfier.js";
import { startWorkers, type WorkerFaults, type WorkerStats } from "./workers.js";

export interface StressOptions {
  label: string;
  stacks: number;
  /** The test database. */
  url: string;
  aws: TestAws;
  seed: number;
  /** Concurrent handler workers, each its own State Manager and pool (default 8). */
  workers?: number;
  maxEventsPerStack?: number;
  /** Builds the fault schedule once the run's admin connection exists. */
  faults?: (admin: pg.Pool) => WorkerFaults;
}

export interface StressResult {
  label: string;
  seed: number;
  stacks: number;
  wallMs: number;
  queue: QueueStats;
  satisfier: SatisfierStats;
  workers: WorkerStats;
  model: ModelReport;
  /** Quiescent moments at which outbox rows were still unsent (nothing would ever send them). */
  stuckOutbox: number;
  /** Quiescent moments at which a stack waited on a PENDING task nobody was running. */
  stuckPending: number;
  sweeps: number;
}

interface Plan {
  machine: string;
  events: PlannedEvent[];
  next: number;
}

const METADATA_KEYS = ["owner", "tier", "replicas", "debug", "note"] as const;

// Basic-plane text only: fauxqs (unlike SQS) refuses characters beyond U+FFFF, see docs/reliability.md.
function randomMetadata(rng: Rng): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  for (const key of METADATA_KEYS) {
    if (!rng.chance(0.4)) continue;
    const kind = rng.int(0, 2);
    out[key] =
      kind === 0
        ? rng.int(-5, 500)
        : kind === 1
          ? rng.chance(0.5)
          : rng.pick(["a", "ünï", "日本", "x y", "ℵ→∞"]);
  }
  return out;
}

/** Retries a read of the observer until the database answers (it may be restarting). */
async function observe<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 200) throw err;
      await pause(50);
    }
  }
}

/**
 * One stress run: publishers walk random valid lives of `stacks` stacks over three machines,
 * the hostile event queue delivers them to concurrent workers, the simulated satisfier answers
 * task messages from the real task queue, and at the end the model check judges the database.
 */
export async function runStress(opts: StressOptions): Promise<StressResult> {
  const rng = new Rng(opts.seed);
  const machines = loadMachines();
  const queue = new EventQueue(rng.fork(1));
  const satisfier = new SimulatedSatisfier(opts.aws.sqs, opts.aws.taskQueueUrl, queue, rng.fork(2));
  const observer = new pg.Pool({
    connectionString: opts.url,
    max: 3,
    application_name: "stackseam-rel-observer",
  });
  observer.on("error", () => {});
  const pubRng = rng.fork(3);

  const plans = new Map<string, Plan>();
  for (let i = 0; i < opts.stacks; i++) {
    const name = MACHINE_NAMES[i % MACHINE_NAMES.length] as string;
    const machine = machines.get(name) as Machine;
    plans.set(`rel-${name}-${i}`, {
      machine: name,
      events: randomLife(machine, pubRng, opts.maxEventsPerStack ?? 8),
      next: 0,
    });
  }

  function publishNext(stackId: string): boolean {
    const plan = plans.get(stackId);
    const planned = plan?.events[plan.next];
    if (!plan || !planned) return false;
    plan.next += 1;
    const message: Record<string, unknown> = { stackId };
    if (pubRng.chance(0.1)) message.action = planned.event;
    else message.event = planned.event;
    if (planned.first || pubRng.chance(0.2)) message.machine = plan.machine;
    if (pubRng.chance(0.4)) message.metadata = randomMetadata(pubRng);
    let copies = 1;
    if (pubRng.chance(0.6)) {
      message.eventId = randomUUID();
      // A publisher that retries (timeouts, at-least-once producers) sends the same event again.
      if (pubRng.chance(0.4)) copies += pubRng.chance(0.15) ? 2 : 1;
    }
    queue.publish(message, copies);
    // Some publishers do not wait for the stack to settle: their next event races this one.
    if (pubRng.chance(0.15)) publishNext(stackId);
    return true;
  }

  const toCheck = new Set<string>();
  let checking = false;
  let checkerStopped = false;
  async function checkReady(ids: string[], force: boolean): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = await observe(() =>
      observer.query<{ id: string; state: string }>("SELECT id, state FROM stacks WHERE id = ANY($1)", [ids]),
    );
    const state = new Map(rows.rows.map((r) => [r.id, r.state]));
    let published = 0;
    for (const id of ids) {
      const plan = plans.get(id);
      const planned = plan?.events[plan.next];
      if (!plan || !planned) continue;
      const current = state.get(id);
      const machine = machines.get(plan.machine) as Machine;
      const ready = planned.first
        ? current === undefined
        : current !== undefined && handledEvents(machine, current).includes(planned.event);
      if ((ready || force) && publishNext(id)) published += 1;
    }
    return published;
  }
  const checker = (async () => {
    while (!checkerStopped) {
      if (toCheck.size === 0) {
        await pause(5);
        continue;
      }
      checking = true;
      const ids = [...toCheck];
      toCheck.clear();
      try {
        await checkReady(ids, false);
      } finally {
        checking = false;
      }
    }
  })();

  const admin = new pg.Pool({ connectionString: opts.url, max: 2, application_name: "stackseam-rel-admin" });
  admin.on("error", () => {});
  const started = performance.now();
  const workers = startWorkers({
    count: opts.workers ?? 8,
    url: opts.url,
    aws: opts.aws,
    queue,
    rng: rng.fork(4),
    admin,
    ...(opts.faults ? { faults: opts.faults(admin) } : {}),
    onSettled: (ids) => {
      for (const id of ids) toCheck.add(id);
    },
  });
  satisfier.start(3);
  for (const id of plans.keys()) publishNext(id);

  const busy = () =>
    queue.outstanding > 0 || !workers.idle() || satisfier.busy || checking || toCheck.size > 0;
  async function quiescent(): Promise<boolean> {
    if (busy()) return false;
    if ((await observe(() => satisfier.queued())) > 0) return false;
    await pause(20);
    return !busy() && (await observe(() => satisfier.queued())) === 0;
  }

  const progress =
    process.env.STACKSEAM_RELIABILITY_DEBUG === "1"
      ? setInterval(() => {
          console.log(
            JSON.stringify({
              outstanding: queue.outstanding,
              idle: workers.idle(),
              satisfierBusy: satisfier.busy,
              checking,
              toCheck: toCheck.size,
              sweeps,
              ...queue.stats,
              ...workers.stats,
              ...satisfier.stats,
            }),
          );
        }, 2000)
      : undefined;
  let stuckOutbox = 0;
  let stuckPending = 0;
  let sweeps = 0;
  let model: ModelReport;
  try {
    for (;;) {
      while (!(await quiescent())) await pause(10);
      sweeps += 1;
      if (sweeps > 500) throw new Error("the run does not converge: 500 quiescent sweeps");
      let sent = 0;
      const unsent = await observe(() =>
        observer.query<{ stack_id: string }>("SELECT DISTINCT stack_id FROM outbox WHERE sent_at IS NULL"),
      );
      stuckOutbox += unsent.rows.length;
      // The design's remedy for anything unsent: RETRY_PENDING_TASKS sends it (and re-dispatches).
      for (const r of unsent.rows) {
        queue.publish({ stackId: r.stack_id, event: "RETRY_PENDING_TASKS", eventId: randomUUID() });
        sent += 1;
      }
      const waiting = await observe(() =>
        observer.query<{ id: string; error: boolean; pending: boolean }>(
          `SELECT id, tasks @> '[{"status":"ERROR"}]' AS error, tasks @> '[{"status":"PENDING"}]' AS pending
             FROM stacks WHERE tasks @> '[{"status":"ERROR"}]' OR tasks @> '[{"status":"PENDING"}]'`,
        ),
      );
      for (const r of waiting.rows) {
        if (r.pending && !unsent.rows.some((u) => u.stack_id === r.id)) stuckPending += 1;
        // The operator answers a failed task with RETRY_FAILED_TASKS.
        const event = r.error ? "RETRY_FAILED_TASKS" : "RETRY_PENDING_TASKS";
        queue.publish({ stackId: r.id, event, eventId: randomUUID() });
        sent += 1;
      }
      if (sent > 0) continue;
      const remaining = [...plans].filter(([, p]) => p.next < p.events.length).map(([id]) => id);
      if (remaining.length === 0) break;
      if ((await checkReady(remaining, false)) === 0) await checkReady(remaining, true);
    }
    const wallMs = performance.now() - started;
    checkerStopped = true;
    await checker;
    await workers.stop();
    await satisfier.stop();
    model = await observe(() =>
      modelCheck(observer, machines, {
        bodies: queue.bodies,
        taskDeliveries: satisfier.deliveries,
        taskBodies: satisfier.bodies,
      }),
    );
    return {
      label: opts.label,
      seed: opts.seed,
      stacks: opts.stacks,
      wallMs,
      queue: queue.stats,
      satisfier: satisfier.stats,
      workers: workers.stats,
      model,
      stuckOutbox,
      stuckPending,
      sweeps,
    };
  } finally {
    clearInterval(progress);
    checkerStopped = true;
    await workers.stop().catch(() => {});
    await satisfier.stop().catch(() => {});
    await observer.end();
    await admin.end();
  }
}

/** The figures a run prints (and docs/reliability.md records). */
export function summarize(r: StressResult): Record<string, number | string> {
  const seconds = r.wallMs / 1000;
  return {
    run: r.label,
    seed: r.seed,
    stacks: r.stacks,
    "events published (distinct keys)": r.queue.keys,
    "SQS messages published": r.queue.messages,
    "records delivered": r.queue.deliveries,
    "duplicate deliveries": r.queue.duplicateDeliveries,
    "duplicate share": `${((100 * r.queue.duplicateDeliveries) / Math.max(1, r.queue.deliveries)).toFixed(1)} %`,
    "publisher duplicates": r.queue.publisherDuplicates,
    "redelivered in flight": r.queue.redeliveredInFlight,
    "redelivered after processing": r.queue.redeliveredAfterAck,
    "records returned as failed": r.queue.returnedAsFailed,
    "records abandoned by killed workers": r.queue.abandoned,
    batches: r.workers.batches,
    "workers killed": r.workers.kills,
    "history rows": r.model.historyRows,
    applied: r.model.applied,
    refused: r.model.refused,
    "stale reports": r.model.staleReports,
    "other ignored": r.model.otherIgnored,
    "duplicates absorbed (history)": r.model.duplicateRows,
    "task dispatches": r.model.dispatchTokens,
    "task errors (simulated)": r.satisfier.errors,
    "late duplicate reports": r.satisfier.lateDuplicates,
    "operator retries": r.satisfier.operatorRetries,
    "stacks live at end": r.model.liveStacks,
    "lost events": r.model.lostEvents,
    "task messages lost": r.model.tasksLost,
    "task messages doubled": r.model.tasksDoubled,
    "stuck outbox": r.stuckOutbox,
    "stuck pending": r.stuckPending,
    mismatches: r.model.mismatches,
    "wall time": `${seconds.toFixed(1)} s`,
    "throughput (records/s)": Math.round(r.queue.deliveries / seconds),
    "throughput (applied events/s)": Math.round(r.model.applied / seconds),
  };
}
