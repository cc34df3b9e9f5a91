import {
  type Decision,
  type Deps,
  type Dispatch,
  type EngineEvent,
  initialTransition,
  isReportEvent,
  type Machine,
  parseEventMessage,
  type Stack,
  transition,
} from "@stackseam/core";
import type pg from "pg";
import { canonical } from "./canonical.js";
import { withoutRunTime } from "./reference-check.js";
import { timerOf } from "./reference-model.js";

/** What the final database must agree with, gathered while the run happened. */
export interface RunRecord {
  /** Every event-queue message body, by SQS message id. */
  bodies: ReadonlyMap<string, string>;
  /** token → SQS message ids the task message arrived under. */
  taskDeliveries: ReadonlyMap<string, ReadonlySet<string>>;
  /** token → the task message body received. */
  taskBodies: ReadonlyMap<string, string>;
  /** Keys of dead-lettered messages without an eventId → the key they were redriven under. */
  redrivenAs?: ReadonlyMap<string, string>;
}

export interface ModelReport {
  stacks: number;
  liveStacks: number;
  historyRows: number;
  applied: number;
  refused: number;
  /** Reports for an earlier dispatch, a moved-on state or a removed stack, and repeated reports. */
  staleReports: number;
  otherIgnored: number;
  /** History rows flagged duplicate: redeliveries the engine recognised and skipped. */
  duplicateRows: number;
  /** Refusals of events for stacks that did not exist, which create nothing (decided without a lock; judged on no stack). */
  unlockedRefusals: number;
  /** Published event keys with no processing row in history. */
  lostEvents: number;
  /** Disagreements between the database and the pure replay (must be 0). */
  mismatches: number;
  mismatchSamples: string[];
  dispatchTokens: number;
  /** Dispatches never received from the task queue. */
  tasksLost: number;
  /** Dispatches received under more than one SQS message. */
  tasksDoubled: number;
  /** Outbox rows still unsent after the drain. */
  unsent: number;
}

interface HistoryRow {
  id: string;
  stack_id: string;
  event: string | null;
  event_key: string;
  outcome: "applied" | "refused" | "ignored";
  reason: string | null;
  from_state: string | null;
  to_state: string | null;
  path: string[] | null;
  duplicate: boolean;
  detail: { dispatched?: Dispatch[]; removed?: boolean; retryAt?: string } | null;
}

interface StackRow {
  id: string;
  machine: string;
  state: string;
  metadata: Record<string, unknown>;
  tasks: unknown[];
  entry: number;
}

interface OutboxRow {
  stack_id: string;
  token: string;
  body: string;
  sent_at: Date | null;
  message_id: string | null;
}

const EPOCH = new Date(0);

/** A task as the spec reference defines it, with its timers' instants; how long a timed-out attempt ran is left out. */
const specTask = (t: unknown) => {
  const { name, status, token, attempt, description, deadline, retryAt } = t as Record<string, unknown>;
  return {
    name,
    status,
    token,
    attempt,
    ...(typeof description === "string" ? { description: withoutRunTime(description) } : {}),
    ...(deadline === undefined ? {} : { deadline }),
    ...(retryAt === undefined ? {} : { retryAt }),
  };
};

/** A TIMER event as the tick sent it, rebuilt from its history row (it has no published body). */
function timerEvent(row: HistoryRow): EngineEvent | undefined {
  const timer = row.event === "TIMER" ? timerOf(row.event_key) : undefined;
  return timer ? { name: "TIMER", stackId: row.stack_id, key: row.event_key, timer } : undefined;
}

const comparable = (s: {
  machine: string;
  state: string;
  metadata: unknown;
  tasks: unknown;
  entry: number;
}) =>
  canonical({
    machine: s.machine,
    state: s.state,
    metadata: s.metadata,
    tasks: (s.tasks as unknown[]).map(specTask),
    entry: s.entry,
  });

/**
 * The model check. For every stack, replays the events history records as processed (in the
 * order they were processed: history ids are assigned under the stack's row lock, but for the
 * refusals of events for no stack that are exempted below) through core's
 * pure `transition`, feeding it the dispatch tokens history recorded. Each row's outcome, states,
 * path and dispatches must match the replay, and the live row must equal the replayed stack.
 * Then every dispatch must be in the outbox, sent, and received exactly once from the task queue.
 */
export async function modelCheck(
  db: pg.Pool,
  machines: ReadonlyMap<string, Machine>,
  run: RunRecord,
): Promise<ModelReport> {
  const history = (
    await db.query<HistoryRow>(
      "SELECT id, stack_id, event, event_key, outcome, reason, from_state, to_state, path, duplicate, detail FROM history ORDER BY id",
    )
  ).rows;
  const live = new Map(
    (await db.query<StackRow>("SELECT id, machine, state, metadata, tasks, entry FROM stacks")).rows.map(
      (r) => [r.id, r],
    ),
  );
  const outbox = (await db.query<OutboxRow>("SELECT stack_id, token, body, sent_at, message_id FROM outbox"))
    .rows;

  const events = new Map<string, EngineEvent>();
  for (const [messageId, body] of run.bodies) {
    const parsed = parseEventMessage(body, messageId);
    if (!parsed.ok) throw new Error(`the harness published an invalid event: ${parsed.reason}: ${body}`);
    events.set(`${parsed.event.stackId}\0${parsed.event.key}`, parsed.event);
  }

  const report: ModelReport = {
    stacks: 0,
    liveStacks: live.size,
    historyRows: history.length,
    applied: 0,
    refused: 0,
    staleReports: 0,
    otherIgnored: 0,
    duplicateRows: 0,
    unlockedRefusals: 0,
    lostEvents: 0,
    mismatches: 0,
    mismatchSamples: [],
    dispatchTokens: 0,
    tasksLost: 0,
    tasksDoubled: 0,
    unsent: 0,
  };
  const mismatch = (text: string) => {
    report.mismatches += 1;
    if (report.mismatchSamples.length < 20) report.mismatchSamples.push(text);
  };

  const byStack = new Map<string, HistoryRow[]>();
  const processed = new Set<string>();
  for (const row of history) {
    if (row.duplicate) {
      report.duplicateRows += 1;
      continue;
    }
    const list = byStack.get(row.stack_id) ?? [];
    list.push(row);
    byStack.set(row.stack_id, list);
    processed.add(`${row.stack_id}\0${row.event_key}`);
    if (row.outcome === "applied") report.applied += 1;
    else if (row.outcome === "refused") report.refused += 1;
    else if (row.event !== null && isReportEvent(row.event)) report.staleReports += 1;
    else report.otherIgnored += 1;
  }
  for (const [key, event] of events) {
    let k: string | undefined = event.key;
    while (k !== undefined && !processed.has(`${event.stackId}\0${k}`)) k = run.redrivenAs?.get(k);
    if (k === undefined) {
      report.lostEvents += 1;
      mismatch(`event ${key.replace("\0", " key ")} was published but never processed`);
    }
  }

  const deadlines = new Map(
    outbox.map((o) => [o.token, (JSON.parse(o.body) as { deadline?: string }).deadline]),
  );
  const dispatched = new Map<string, string>(); // token → stack
  for (const [stackId, rows] of byStack) {
    report.stacks += 1;
    let stack: Stack | null = null;
    let broken = false;
    for (const row of rows) {
      const event = events.get(`${stackId}\0${row.event_key}`) ?? timerEvent(row);
      if (!event) {
        mismatch(`${stackId}: history row ${row.id} has key ${row.event_key}, which nobody published`);
        broken = true;
        break;
      }
      const recorded = row.detail?.dispatched ?? [];
      const tokens = recorded.map((d) => d.token);
      let unrecorded = 0;
      // Time is not recorded per row: a timer fires at its due time, everything else at the epoch, and
      // the instants a decision derives from now (deadlines, retry times) are then set to the
      // recorded ones, as the tokens are.
      const now = event.timer ? new Date(event.timer.dueAt) : EPOCH;
      const deps: Deps = { now: () => now, newToken: () => tokens.shift() ?? `unrecorded-${unrecorded++}` };
      const current = stack as Stack | null;
      const machineName: string | undefined = current?.machine ?? event.machine;
      const machine: Machine | undefined = machineName === undefined ? undefined : machines.get(machineName);
      const where = `${stackId} row ${row.id} (${row.event})`;
      // An event for a stack that does not exist, which creates nothing (no machine, or one whose
      // INIT does not handle it), is refused (a report: ignored) without a row lock, as there is no
      // row to lock, so it may be decided just before a concurrent first event commits yet be
      // numbered just after it: nothing to replay, and nothing it could have changed. Such a row is
      // judged as decided on no stack, which is what its from_state says; reference-check.ts exempts
      // the same rows. (A full stress run met one here: AGAIN naming its machine, refused by INIT,
      // numbered after the START that created the stack again after a removal.)
      if (
        row.outcome !== "applied" &&
        row.from_state === null &&
        (event.machine === undefined || current !== null)
      ) {
        report.unlockedRefusals += 1;
        const named = event.machine === undefined ? undefined : machines.get(event.machine);
        const alone = initialTransition(named ? { ok: true, machine: named } : null, event, deps);
        const reason = alone.outcome === "applied" ? null : alone.reason;
        if (alone.outcome !== row.outcome || reason !== row.reason)
          mismatch(
            `${where}: database says ${row.outcome} (${row.reason ?? ""}) with no stack, the replay on no stack says ${alone.outcome} (${reason ?? ""})`,
          );
        continue;
      }
      const result: Decision | { outcome: "ignored" | "refused" } = machine
        ? current
          ? transition({ ok: true, machine }, current, event, deps)
          : initialTransition({ ok: true, machine }, event, deps)
        : { outcome: isReportEvent(event.name) ? "ignored" : "refused" };
      if (result.outcome !== row.outcome) {
        mismatch(
          `${where}: database says ${row.outcome} (${row.reason ?? ""}), the model says ${result.outcome} in state ${stack?.state ?? "none"}`,
        );
        broken = true;
        break;
      }
      if (result.outcome !== "applied") continue;
      const got = canonical({
        from: row.from_state,
        to: row.to_state,
        path: row.path ?? [],
        dispatch: recorded,
        removed: row.detail?.removed === true,
      });
      const want = canonical({
        from: result.from,
        to: result.to,
        path: result.path,
        dispatch: result.dispatch,
        removed: result.removed,
      });
      if (got !== want) {
        mismatch(`${where}: database ${got} but the model ${want}`);
        broken = true;
        break;
      }
      for (const d of result.dispatch) dispatched.set(d.token, stackId);
      const retryAt = result.detail.retryAt as string | undefined;
      if ((retryAt === undefined) !== (row.detail?.retryAt === undefined))
        mismatch(
          `${where}: detail.retryAt is ${row.detail?.retryAt ?? "absent"}, the replay's ${retryAt ?? "absent"}`,
        );
      const fresh = new Set(result.dispatch.map((d) => d.token));
      for (const task of result.stack?.tasks ?? []) {
        if (fresh.has(task.token)) {
          const recorded = deadlines.get(task.token);
          if ((task.deadline === undefined) !== (recorded === undefined))
            mismatch(
              `${where}: the task message of ${task.name} carries deadline ${recorded}, the replay ${task.deadline}`,
            );
          if (recorded === undefined) delete task.deadline;
          else task.deadline = recorded;
        }
        if (retryAt !== undefined && task.retryAt === retryAt && row.detail?.retryAt !== undefined)
          task.retryAt = row.detail.retryAt;
      }
      stack = result.stack;
    }
    if (broken) {
      // Keep the task checks about the engine, not about the replay that already failed.
      for (const r of rows)
        for (const d of r.outcome === "applied" ? (r.detail?.dispatched ?? []) : [])
          dispatched.set(d.token, stackId);
      continue;
    }
    const row = live.get(stackId);
    if (!stack && row)
      mismatch(`${stackId}: the model removed it, the database still has it in ${row.state}`);
    else if (stack && !row)
      mismatch(`${stackId}: the model has it in ${stack.state}, the database has no row`);
    else if (stack && row && comparable(stack) !== comparable(row))
      mismatch(`${stackId}: database ${comparable(row)} but the model ${comparable(stack)}`);
  }
  for (const id of live.keys()) if (!byStack.has(id)) mismatch(`${id}: a live stack without history`);

  report.dispatchTokens = dispatched.size;
  const inOutbox = new Map(outbox.map((o) => [o.token, o]));
  for (const [token, stackId] of dispatched) {
    const row = inOutbox.get(token);
    if (!row) {
      mismatch(`${stackId}: dispatch ${token} is not in the outbox`);
      continue;
    }
    if (row.sent_at === null) report.unsent += 1;
    const received = run.taskDeliveries.get(token);
    if (!received || received.size === 0) report.tasksLost += 1;
    else if (received.size > 1) report.tasksDoubled += 1;
    else if (row.message_id !== null && !received.has(row.message_id))
      mismatch(`${stackId}: dispatch ${token} was received under a message id the outbox did not record`);
    const body = run.taskBodies.get(token);
    if (body !== undefined && body !== row.body)
      mismatch(`${stackId}: task message ${token} arrived altered`);
  }
  for (const o of outbox)
    if (!dispatched.has(o.token)) mismatch(`${o.stack_id}: outbox token ${o.token} no history dispatched`);
  for (const token of run.taskDeliveries.keys())
    if (!dispatched.has(token)) mismatch(`task message ${token} arrived but was never dispatched`);
  return report;
}
