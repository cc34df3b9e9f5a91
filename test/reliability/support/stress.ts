import { randomUUID } from "node:crypto";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Deps, Machine, MachineSpec, Scalar } from "@stackseam/core";
import { createPool, createTick, databaseFromPool, localMachineSource } from "@stackseam/state-manager";
import pg from "pg";
import { TEST_CREDENTIALS, type TestAws } from "../../support/aws.js";
import { EventQueue, type QueueStats } from "./event-queue.js";
import { generatedPaths, INIT_AGAIN, type LifePath, lifeGraph, reachableTransitions } from "./graph-paths.js";
import {
  handledEvents,
  loadMachines,
  MACHINE_DIR,
  MACHINE_NAMES,
  type PlannedEvent,
  randomLife,
} from "./machines.js";
import { type ModelReport, modelCheck } from "./model-check.js";
import { pause, Rng } from "./random.js";
import { type ReferenceReport, referenceCheck } from "./reference-check.js";
import { INIT } from "./reference-model.js";
import {
  operatorMetadata,
  type SatisfierFaults,
  type SatisfierStats,
  SimulatedSatisfier,
} from "./satisfier.js";
import { settleCensus, type WedgeCause } from "./settle.js";
import { silentLogger, startWorkers, type WorkerFaults, type WorkerStats } from "./workers.js";

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
  /** Builds the fault schedule once the run's admin connection and event queue exist. */
  faults?: (admin: pg.Pool, queue: EventQueue) => WorkerFaults;
  /** How the simulated Task Satisfier crashes (default: never). */
  satisfierFaults?: SatisfierFaults;
}

/** How far the workload walked the machines' graphs. */
export interface Coverage {
  /** Lives taken from the machines' graphs (shortest and simple paths, every transition). */
  graphLives: number;
  /** Distinct generated paths. */
  graphPaths: number;
  randomLives: number;
  /** Reachable transitions (`machine state EVENT`) and how many of them were applied at least once. */
  reachable: number;
  exercised: number;
  missing: string[];
}

/** What the "can never settle" census found over all the quiescent moments of a run. */
export interface SettleFigures {
  /** Stacks that can never settle (first cause found for each). */
  neverSettle: Map<string, WedgeCause>;
  /** Dead-lettered events that had never been processed (a person redrove them). */
  unprocessedDeadLetters: number;
  /** Task messages the task queue dead-lettered. */
  deadLetteredTasks: Set<string>;
  /** The State Manager's tick, run at every quiet moment before the census… */
  tick: {
    runs: number;
    outboxResent: number;
    timersFired: number;
    scheduleEvents: number;
    /** …and while the run is busy (see runStress). */
    busyRuns: number;
    busyTimersFired: number;
    busyTimersStale: number;
  };
}

export interface StressResult {
  label: string;
  seed: number;
  stacks: number;
  wallMs: number;
  queue: QueueStats;
  satisfier: SatisfierStats;
  workers: WorkerStats;
  /** The independent reference model's verdict (the headline). */
  reference: ReferenceReport;
  /** The second check: history replayed through core's own transition. */
  model: ModelReport;
  settle: SettleFigures;
  coverage: Coverage;
  /** Stacks found with outbox rows still unsent at a quiescent moment (summed over the moments). */
  stuckOutbox: number;
  /** Stacks found waiting on a PENDING task nobody was running, their messages sent (summed). */
  stuckPending: number;
  sweeps: number;
  /** The Postgres server's version. */
  postgres: string;
}

interface Plan {
  machine: string;
  events: PlannedEvent[];
  next: number;
}

const DAY_MS = 86_400_000;

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
  const satisfier = new SimulatedSatisfier(
    opts.aws.sqs,
    { taskQueueUrl: opts.aws.taskQueueUrl, taskDlqUrl: opts.aws.taskDlqUrl },
    queue,
    rng.fork(2),
    opts.satisfierFaults,
  );
  const settle: SettleFigures = {
    neverSettle: new Map(),
    unprocessedDeadLetters: 0,
    deadLetteredTasks: new Set(),
    tick: {
      runs: 0,
      outboxResent: 0,
      timersFired: 0,
      scheduleEvents: 0,
      busyRuns: 0,
      busyTimersFired: 0,
      busyTimersStale: 0,
    },
  };
  // One clock for the workers and the tick: real time plus an offset that jumps a day at each quiet
  // moment, far past every timeout and retry backoff of the stress machines, so that the tick
  // fires every timer and counts every unsent outbox row as stuck, and what the workers decide
  // next is later still.
  let offsetMs = 0;
  const deps: Deps = {
    now: () => new Date(Date.now() + offsetMs),
    newToken: () => randomUUID(),
  };
  const tickPool = createPool(opts.url, { max: 2, applicationName: "stackseam-rel-tick" });
  tickPool.on("error", () => {});
  const tickDb = databaseFromPool(tickPool);
  const tickSqs = new SQSClient({
    endpoint: opts.aws.endpoint,
    region: opts.aws.region,
    credentials: TEST_CREDENTIALS,
  });
  const tick = createTick({
    db: tickDb,
    sqs: tickSqs,
    taskQueueUrl: opts.aws.taskQueueUrl,
    machines: localMachineSource({ dir: MACHINE_DIR }),
    logger: silentLogger(),
    deps,
  });
  const observer = new pg.Pool({
    connectionString: opts.url,
    max: 3,
    application_name: "stackseam-rel-observer",
  });
  observer.on("error", () => {});
  const pubRng = rng.fork(3);

  const specs = new Map<string, MachineSpec>([...machines].map(([name, m]) => [name, m.spec]));
  const graphs = new Map(
    MACHINE_NAMES.map((name) => [name as string, lifeGraph(name, specs.get(name) as MachineSpec)]),
  );
  const paths = new Map([...graphs].map(([name, g]) => [name, generatedPaths(g)]));
  const coverage: Coverage = {
    graphLives: 0,
    graphPaths: [...paths.values()].reduce((n, p) => n + p.length, 0),
    randomLives: 0,
    reachable: 0,
    exercised: 0,
    missing: [],
  };
  const plans = new Map<string, Plan>();
  for (let i = 0; i < opts.stacks; i++) {
    const name = MACHINE_NAMES[i % MACHINE_NAMES.length] as string;
    const machine = machines.get(name) as Machine;
    // Every generated path once, then a third of the lives again from the graph, the rest random.
    const j = Math.floor(i / MACHINE_NAMES.length);
    const own = paths.get(name) as LifePath[];
    const path = j < own.length ? own[j] : j % 3 === 0 ? own[j % own.length] : undefined;
    if (path) coverage.graphLives += 1;
    else coverage.randomLives += 1;
    plans.set(`rel-${name}-${i}`, {
      machine: name,
      events: path
        ? path.events.map((event, k) => ({ event, first: k === 0 }))
        : randomLife(machine, pubRng, opts.maxEventsPerStack ?? 8),
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
    // Now and then a confused publisher: an event the machine does not declare, NEXT from
    // outside, or a machine that does not exist (refused whether or not the stack exists).
    if (pubRng.chance(0.04)) {
      const kind = pubRng.int(0, 2);
      const hostile: Record<string, unknown> = { stackId, event: planned.event };
      if (kind === 0) hostile.event = pubRng.pick(["FREEZ", "LAUNCH-2", "TEAR-DOWN"]);
      else if (kind === 1) hostile.event = "NEXT";
      else hostile.machine = "ghost-machine";
      if (pubRng.chance(0.5)) hostile.eventId = randomUUID();
      queue.publish(hostile);
    }
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
    ...(opts.faults ? { faults: opts.faults(admin, queue) } : {}),
    onSettled: (ids) => {
      for (const id of ids) toCheck.add(id);
    },
    deps,
  });
  satisfier.start(3);
  for (const id of plans.keys()) publishNext(id);

  let ticking = false;
  const busy = () =>
    queue.outstanding > 0 || !workers.idle() || satisfier.busy || checking || toCheck.size > 0 || ticking;
  async function quiescent(): Promise<boolean> {
    if (busy()) return false;
    if ((await observe(() => satisfier.queued())) > 0) return false;
    await pause(20);
    // busy() last: nothing may start between this answer and the quiet moment that relies on it.
    const queued = await observe(() => satisfier.queued());
    return queued === 0 && !busy();
  }

  // Time also passes while the run is busy, by up to 40 minutes at a time (past the shorter
  // timeouts and backoffs, not the longer ones), and the tick runs then too, racing the workers as the deployed one does: attempts time out with their reports on the
  // way (late reports of a timed-out attempt), and timers fire for stacks that have just moved on
  // or heard from their task (stale timers). Never during a quiet moment, which must stay quiet.
  let quiet = false;
  let timeStopped = false;
  const timeRng = rng.fork(5);
  const passing = (async () => {
    while (!timeStopped) {
      await pause(timeRng.int(400, 1600));
      if (timeStopped || quiet || ticking) continue;
      ticking = true;
      try {
        offsetMs += timeRng.int(0, 40 * 60_000);
        const ticked = await observe(() => tick.run(30_000));
        settle.tick.busyRuns += 1;
        settle.tick.busyTimersFired += ticked.timersFired;
        settle.tick.busyTimersStale += ticked.timersStale;
      } finally {
        ticking = false;
      }
    }
  })();

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
      quiet = false;
      while (!(await quiescent())) await pause(10);
      quiet = true;
      sweeps += 1;
      if (sweeps > 500) throw new Error("the run does not converge: 500 quiescent sweeps");
      // The tick first: whatever it moves was not wedged.
      offsetMs += DAY_MS;
      const ticked = await observe(() => tick.run(30_000));
      settle.tick.runs += 1;
      settle.tick.outboxResent += ticked.outboxResent;
      settle.tick.timersFired += ticked.timersFired;
      settle.tick.scheduleEvents += ticked.scheduleEvents;
      // A timer that failed to fire is claimed again by the next tick (its lease is long over by then).
      if (
        ticked.outboxResent +
          ticked.timersFired +
          ticked.scheduleEvents +
          ticked.timersStale +
          ticked.timersFailed >
        0
      )
        continue;
      let sent = 0;
      // Then the census, before any person acts: which stacks could never settle by themselves?
      for (const token of await observe(() => satisfier.drainDeadLetters()))
        settle.deadLetteredTasks.add(token);
      const census = await observe(() =>
        settleCensus(observer, specs, {
          deadLetters: queue.deadLetters,
          deadTasks: settle.deadLetteredTasks,
        }),
      );
      for (const [id, cause] of census.wedged)
        if (!settle.neverSettle.has(id)) settle.neverSettle.set(id, cause);
      settle.unprocessedDeadLetters += census.unprocessedDeadLetters.length;
      stuckOutbox += census.unsentStacks.size;
      for (const id of census.pendingStacks) if (!census.unsentStacks.has(id)) stuckPending += 1;
      // Then a person: redrive the events the DLQ holds that were never processed (and delete the
      // rest: a redriven event without an eventId would be applied again, see docs/operations.md)…
      const redrive = new Set(census.unprocessedDeadLetters);
      sent += queue.drainDeadLetters((d) => redrive.has(d)).length;
      // …re-send what nothing will send or report on (RETRY_PENDING_TASKS also flushes the
      // outbox), and answer failed tasks with RETRY_FAILED_TASKS.
      for (const id of new Set([...census.unsentStacks, ...census.pendingStacks, ...census.errorStacks])) {
        const event = census.errorStacks.has(id) ? "RETRY_FAILED_TASKS" : "RETRY_PENDING_TASKS";
        const message: Record<string, unknown> = { stackId: id, event, eventId: randomUUID() };
        if (pubRng.chance(0.2)) message.metadata = operatorMetadata(pubRng);
        queue.publish(message);
        sent += 1;
      }
      if (sent > 0) continue;
      const remaining = [...plans].filter(([, p]) => p.next < p.events.length).map(([id]) => id);
      if (remaining.length === 0) break;
      if ((await checkReady(remaining, false)) === 0) await checkReady(remaining, true);
    }
    const wallMs = performance.now() - started;
    timeStopped = true;
    await passing;
    checkerStopped = true;
    await checker;
    await workers.stop();
    await satisfier.stop();
    const run = {
      bodies: queue.bodies,
      redrivenAs: queue.redrivenAs,
      taskDeliveries: satisfier.deliveries,
      taskBodies: satisfier.bodies,
      deadLetteredTasks: settle.deadLetteredTasks,
    };
    const reference = await observe(() => referenceCheck(observer, specs, run));
    model = await observe(() => modelCheck(observer, machines, run));
    const reachable = [...graphs].flatMap(([name, g]) =>
      [...new Set(reachableTransitions(g).map((t) => t.replace(INIT_AGAIN, INIT)))].map(
        (t) => `${name} ${t}`,
      ),
    );
    coverage.reachable = reachable.length;
    coverage.missing = reachable.filter((t) => !reference.transitions.has(t));
    coverage.exercised = coverage.reachable - coverage.missing.length;
    const server = await observe(() => observer.query<{ server_version: string }>("SHOW server_version"));
    return {
      label: opts.label,
      seed: opts.seed,
      stacks: opts.stacks,
      wallMs,
      queue: queue.stats,
      satisfier: satisfier.stats,
      workers: workers.stats,
      reference,
      model,
      settle,
      coverage,
      stuckOutbox,
      stuckPending,
      sweeps,
      postgres: server.rows[0]?.server_version ?? "?",
    };
  } finally {
    clearInterval(progress);
    timeStopped = true;
    await passing.catch(() => {});
    checkerStopped = true;
    await workers.stop().catch(() => {});
    await satisfier.stop().catch(() => {});
    await observer.end();
    await admin.end();
    await tickDb.destroy().catch(() => {});
    tickSqs.destroy();
  }
}

/** Stacks that can never settle, by cause. */
export function wedgesByCause(r: StressResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const cause of r.settle.neverSettle.values()) out[cause] = (out[cause] ?? 0) + 1;
  return out;
}

/** The figures a run prints (and docs/reliability.md records). */
export function summarize(r: StressResult): Record<string, number | string> {
  const seconds = r.wallMs / 1000;
  return {
    run: r.label,
    seed: r.seed,
    stacks: r.stacks,
    "lives from the machines' graphs / random": `${r.coverage.graphLives} / ${r.coverage.randomLives}`,
    "generated paths": r.coverage.graphPaths,
    "transitions exercised": `${r.coverage.exercised} of ${r.coverage.reachable}`,
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
    "events dead-lettered": r.queue.deadLettered,
    "of which never processed (redriven by a person)": r.settle.unprocessedDeadLetters,
    "task messages dead-lettered": r.settle.deadLetteredTasks.size,
    batches: r.workers.batches,
    "workers killed": r.workers.kills,
    "history rows": r.reference.historyRows,
    applied: r.reference.applied,
    refused: r.reference.refused,
    "stale reports": r.reference.staleReports,
    "timeouts / retries after backoff / stale timers": `${r.reference.timeouts} / ${r.reference.retriesAfterBackoff} / ${r.reference.staleTimers}`,
    "late reports of timed-out attempts (satisfied / ignored)": `${r.reference.lateReportsAfterTimeout.satisfied} / ${r.reference.lateReportsAfterTimeout.ignored}`,
    "other ignored": r.reference.otherIgnored,
    "duplicates absorbed (history)": r.reference.duplicateRows,
    "task dispatches": r.reference.dispatches,
    "task errors (simulated)": r.satisfier.errors,
    "satisfier crashes (deliveries) / poisoned dispatches": `${r.satisfier.crashes} / ${r.satisfier.poisoned}`,
    "late duplicate reports": r.satisfier.lateDuplicates,
    "late completions / late errors": `${r.satisfier.lateCompletions} / ${r.satisfier.lateErrors}`,
    "operator retries": r.satisfier.operatorRetries,
    "stacks live at end": r.reference.liveStacks,
    "lost events": r.reference.lostEvents,
    "events applied twice": r.reference.eventsTwice,
    "task messages lost": r.reference.tasksLost,
    "task messages doubled": r.reference.tasksDoubled,
    "stacks that can never settle": r.settle.neverSettle.size,
    "tick runs / task messages it re-sent / timers it fired": `${r.settle.tick.runs} / ${r.settle.tick.outboxResent} / ${r.settle.tick.timersFired}`,
    "ticks while busy / timers they fired / stale": `${r.settle.tick.busyRuns} / ${r.settle.tick.busyTimersFired} / ${r.settle.tick.busyTimersStale}`,
    "stuck outbox (stacks, summed over quiet moments)": r.stuckOutbox,
    "stuck pending (stacks, summed)": r.stuckPending,
    "mismatches against the independent model": r.reference.mismatches,
    "mismatches against core's replay": r.model.mismatches,
    "wall time": `${seconds.toFixed(1)} s`,
    "throughput (records/s)": Math.round(r.queue.deliveries / seconds),
    "throughput (applied events/s)": Math.round(r.reference.applied / seconds),
  };
}

/** A run's figures as plain data, for docs/reliability.md. */
export interface StressFigures {
  label: string;
  seed: number;
  stacks: number;
  machines: string[];
  coverage: Coverage;
  queue: QueueStats;
  workers: WorkerStats;
  satisfier: SatisfierStats;
  reference: Omit<ReferenceReport, "transitions" | "mismatchSamples">;
  replayMismatches: number;
  neverSettle: number;
  neverSettleByCause: Record<string, number>;
  tick: SettleFigures["tick"];
  unprocessedDeadLetters: number;
  deadLetteredTasks: number;
  stuckOutbox: number;
  stuckPending: number;
  sweeps: number;
  wallMs: number;
  postgres: string;
}

/** The figures of a run as plain JSON. */
export function stressFigures(r: StressResult): StressFigures {
  const { transitions: _, mismatchSamples: __, ...reference } = r.reference;
  return {
    label: r.label,
    seed: r.seed,
    stacks: r.stacks,
    machines: [...MACHINE_NAMES],
    coverage: r.coverage,
    queue: r.queue,
    workers: r.workers,
    satisfier: r.satisfier,
    reference,
    replayMismatches: r.model.mismatches,
    neverSettle: r.settle.neverSettle.size,
    neverSettleByCause: wedgesByCause(r),
    tick: r.settle.tick,
    unprocessedDeadLetters: r.settle.unprocessedDeadLetters,
    deadLetteredTasks: r.settle.deadLetteredTasks.size,
    stuckOutbox: r.stuckOutbox,
    stuckPending: r.stuckPending,
    sweeps: r.sweeps,
    wallMs: r.wallMs,
    postgres: r.postgres,
  };
}
