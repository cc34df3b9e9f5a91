import type { MachineSpec } from "@stackseam/core";
import type pg from "pg";
import { canonical } from "./canonical.js";
import {
  deadlineAfterMs,
  decide,
  durationText,
  INIT,
  isReport,
  RAN,
  type RefClock,
  type RefDispatch,
  type RefEvent,
  type RefFailure,
  type RefStack,
  type RefTask,
  RULES,
  refEventOf,
  TIMER,
  timerOf,
} from "./reference-model.js";

/** What the run did, gathered while it happened: what the database must agree with. */
export interface ReferenceRun {
  /** Every event-queue message body, by SQS message id (redriven copies included). */
  bodies: ReadonlyMap<string, string>;
  /** Keys of dead-lettered messages without an eventId → the key they were redriven under. */
  redrivenAs: ReadonlyMap<string, string>;
  /** token → SQS message ids the task message arrived under. */
  taskDeliveries: ReadonlyMap<string, ReadonlySet<string>>;
  /** token → the task message body received. */
  taskBodies: ReadonlyMap<string, string>;
  /** Tokens whose task message the task queue dead-lettered. */
  deadLetteredTasks: ReadonlySet<string>;
}

export interface ReferenceReport {
  /** Stack ids with history. */
  stacks: number;
  liveStacks: number;
  historyRows: number;
  applied: number;
  refused: number;
  /** Ignored reports: stale (earlier dispatch, moved on, removed stack) or repeated. */
  staleReports: number;
  /** Other ignored events: retries with nothing to retry, timers no longer set. */
  otherIgnored: number;
  /** TIMER rows that timed an attempt out. */
  timeouts: number;
  /** TIMER rows that dispatched a retry after its backoff. */
  retriesAfterBackoff: number;
  /** TIMER rows ignored: the stack no longer had the timer (a report came first, it moved on). */
  staleTimers: number;
  /** Reports of an attempt after it timed out: applied (a completion before the retry) or ignored. */
  lateReportsAfterTimeout: { satisfied: number; ignored: number };
  /** History rows flagged duplicate: redeliveries the engine recognised and skipped. */
  duplicateRows: number;
  /** Refusals of events without a loadable machine for stacks that did not exist (decided without a lock; not replayed). */
  unlockedRefusals: number;
  /** Published event keys with no processing row (a redriven event counts under its new key). */
  lostEvents: number;
  /** Event keys with more than one processing row (applied twice). */
  eventsTwice: number;
  /** Disagreements between the database and the independent reference model (must be 0). */
  mismatches: number;
  mismatchSamples: string[];
  dispatches: number;
  /** Dispatches never received from the task queue. */
  tasksLost: number;
  /** Dispatches received under more than one SQS message. */
  tasksDoubled: number;
  /** Dispatches the task queue dead-lettered (the satisfier crashed on every delivery). */
  tasksDeadLettered: number;
  /** Outbox rows still unsent after the drain. */
  unsent: number;
  /** How often each way an event can end was seen (rows of the spec reference's table). */
  endings: Record<string, number>;
  /** `machine state EVENT` of every declared event applied (graph transitions exercised). */
  transitions: Set<string>;
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
  detail: { dispatched?: RefDispatch[]; removed?: boolean; retryAt?: string; note?: string } | null;
}

interface StackRow {
  id: string;
  machine: string;
  state: string;
  metadata: Record<string, unknown>;
  tasks: (RefTask & Record<string, unknown>)[];
  entry: number;
}

interface OutboxRow {
  stack_id: string;
  token: string;
  body: string;
  sent_at: Date | null;
  message_id: string | null;
}

/** A stack row as the spec reference describes a stack (fields added by later features are left out). */
export function refStackOf(row: StackRow): RefStack {
  return {
    id: row.id,
    machine: row.machine,
    state: row.state,
    entry: row.entry,
    metadata: row.metadata as RefStack["metadata"],
    tasks: row.tasks.map((t) => {
      const task: RefTask = { name: t.name, status: t.status, token: t.token, attempt: t.attempt };
      if (typeof t.description === "string") task.description = t.description;
      if (typeof t.deadline === "string") task.deadline = t.deadline;
      if (typeof t.retryAt === "string") task.retryAt = t.retryAt;
      return task;
    }),
  };
}

export type { StackRow as ReferenceStackRow };

/** A timeout's description with how long the attempt ran left out: the model cannot know it. */
export const withoutRunTime = (description: string) =>
  description.replace(/^timed out after [0-9a-z]+ \(/, `timed out after ${RAN} (`);

const comparableStack = (s: RefStack) =>
  canonical({
    machine: s.machine,
    state: s.state,
    entry: s.entry,
    metadata: s.metadata,
    tasks: s.tasks.map((t) => (t.description ? { ...t, description: withoutRunTime(t.description) } : t)),
  });

/** The history note of a failed attempt ("Retries": `task apply failed (attempt 1 of 4); retry in 30s`). */
const failureNote = (f: RefFailure) =>
  `task ${f.task} ${f.kind === "timeout" ? "timed out" : "failed"} (attempt ${f.attempt}${f.of === undefined ? "" : ` of ${f.of}`}); ${
    f.retryInMs === undefined
      ? "the stack waits for RETRY_FAILED_TASKS or another event"
      : `retry in ${durationText(f.retryInMs)}`
  }`;

/** A TIMER event as the tick sent it: it has no published body, only its history row. */
function timerEvent(row: HistoryRow): RefEvent | undefined {
  if (row.event !== TIMER || !timerOf(row.event_key)) return undefined;
  return { stackId: row.stack_id, key: row.event_key, name: TIMER };
}

const byTask = (a: RefDispatch, b: RefDispatch) => (a.task < b.task ? -1 : a.task > b.task ? 1 : 0);

/**
 * Judges the database against the independent reference model. For every stack, the events
 * history records as processed (in processing order: history ids are assigned under the stack's
 * row lock) go through the model; the model decides each one from the spec reference alone. Only
 * the dispatch tokens come from history (they are random): the model says which tasks are
 * dispatched with which attempt, the database must have dispatched exactly those, each under a
 * token never used before. Each row's outcome, the reason's kind, the states, path, dispatches
 * and removal must match, and the live row must equal the model's stack. Then: no event lost or
 * applied twice; every dispatch sent, received exactly once, unaltered.
 */
export async function referenceCheck(
  db: pg.Pool,
  specs: ReadonlyMap<string, MachineSpec>,
  run: ReferenceRun,
): Promise<ReferenceReport> {
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

  const events = new Map<string, RefEvent>();
  for (const [messageId, body] of run.bodies) {
    const event = refEventOf(body, messageId);
    events.set(`${event.stackId}\0${event.key}`, event);
  }
  const report: ReferenceReport = {
    stacks: 0,
    liveStacks: live.size,
    historyRows: history.length,
    applied: 0,
    refused: 0,
    staleReports: 0,
    otherIgnored: 0,
    timeouts: 0,
    retriesAfterBackoff: 0,
    staleTimers: 0,
    lateReportsAfterTimeout: { satisfied: 0, ignored: 0 },
    duplicateRows: 0,
    unlockedRefusals: 0,
    lostEvents: 0,
    eventsTwice: 0,
    mismatches: 0,
    mismatchSamples: [],
    dispatches: 0,
    tasksLost: 0,
    tasksDoubled: 0,
    tasksDeadLettered: 0,
    unsent: 0,
    endings: {},
    transitions: new Set(),
  };
  const mismatch = (text: string) => {
    report.mismatches += 1;
    if (report.mismatchSamples.length < 20) report.mismatchSamples.push(text);
  };
  const seen = (ending: string) => {
    report.endings[ending] = (report.endings[ending] ?? 0) + 1;
  };

  const byStack = new Map<string, HistoryRow[]>();
  const processed = new Map<string, number>();
  const flaggedDuplicate = new Set<string>();
  for (const row of history) {
    const key = `${row.stack_id}\0${row.event_key}`;
    if (row.duplicate) {
      report.duplicateRows += 1;
      flaggedDuplicate.add(key);
      continue;
    }
    byStack.set(row.stack_id, [...(byStack.get(row.stack_id) ?? []), row]);
    processed.set(key, (processed.get(key) ?? 0) + 1);
    if (row.outcome === "applied") report.applied += 1;
    else if (row.outcome === "refused") report.refused += 1;
    else if (row.event !== null && isReport(row.event)) report.staleReports += 1;
    else report.otherIgnored += 1;
  }
  for (const [key, count] of processed) {
    if (count > 1) {
      report.eventsTwice += 1;
      mismatch(`event ${key.replace("\0", " key ")} was processed ${count} times`);
    }
  }
  for (const key of flaggedDuplicate) {
    if (!processed.has(key))
      mismatch(`${key.replace("\0", " key ")}: a duplicate row without the row it repeats`);
  }
  for (const [key, event] of events) {
    let k: string | undefined = event.key;
    while (k !== undefined && !processed.has(`${event.stackId}\0${k}`)) k = run.redrivenAs.get(k);
    if (k === undefined) {
      report.lostEvents += 1;
      mismatch(`event ${key.replace("\0", " key ")} was published but never processed`);
    }
  }

  const specOf = (name: string) => specs.get(name);
  // What each dispatch's task message says about time (the outbox holds the body that was sent).
  const messages = new Map(
    outbox.map((o) => [o.token, JSON.parse(o.body) as { dispatchedAt?: string; deadline?: string }]),
  );
  const usedTokens = new Set<string>();
  const timedOut = new Set<string>(); // tokens of attempts that timed out
  const dispatched = new Map<string, string>(); // token → stack
  for (const [stackId, rows] of byStack) {
    report.stacks += 1;
    let stack: RefStack | null = null;
    let broken = false;
    for (const row of rows) {
      const where = `${stackId} row ${row.id} (${row.event} in ${stack?.state ?? "no stack"})`;
      const event = events.get(`${stackId}\0${row.event_key}`) ?? timerEvent(row);
      if (!event) {
        mismatch(`${stackId}: history row ${row.id} has key ${row.event_key}, which nobody published`);
        broken = true;
        break;
      }
      // An event for a stack that does not exist, which creates nothing (no machine, a machine that
      // cannot be loaded, or one whose INIT does not handle it), is refused (a report: ignored)
      // without a row lock, so it may be decided just before a concurrent first event commits yet
      // be numbered just after it: nothing to replay, and nothing it could have changed. Such a row
      // is judged as decided on "no stack", which is what its from_state says. (The full stress run
      // met the third kind: REBUILD naming its machine, refused by INIT, numbered after the LAUNCH
      // that created the stack again after a removal.)
      const unloadable = event.machine === undefined || !specs.has(event.machine);
      if (row.outcome !== "applied" && row.from_state === null && (unloadable || stack !== null)) {
        report.unlockedRefusals += 1;
        const alone = decide(specOf, null, event, () => "(none)");
        if (
          alone.outcome === "applied" ||
          alone.outcome !== row.outcome ||
          !RULES[alone.rule].test(row.reason ?? "")
        )
          mismatch(
            `${where}: database says ${row.outcome} (${row.reason ?? ""}) with no stack, the model says ${alone.outcome}`,
          );
        else seen(`${alone.outcome}: ${alone.rule}`);
        continue;
      }
      const recorded = row.outcome === "applied" ? (row.detail?.dispatched ?? []) : [];
      const unused = [...recorded];
      const token = (task: string) => {
        const i = unused.findIndex((d) => d.task === task);
        if (i < 0) return `(no dispatch of ${task} recorded)`;
        return (unused.splice(i, 1)[0] as RefDispatch).token;
      };
      const clock: RefClock = {
        deadline: (t) => messages.get(t)?.deadline,
        retryAt: () => (row.outcome === "applied" ? row.detail?.retryAt : undefined),
      };
      const verdict = decide(specOf, stack, event, token, clock);
      if (isReport(event.name) && event.token !== undefined && timedOut.has(event.token)) {
        if (verdict.outcome === "applied") report.lateReportsAfterTimeout.satisfied += 1;
        else report.lateReportsAfterTimeout.ignored += 1;
      }
      if (verdict.outcome !== row.outcome) {
        mismatch(
          `${where}: database says ${row.outcome} (${row.reason ?? ""}), the model says ${verdict.outcome}${verdict.outcome === "applied" ? "" : ` (${verdict.rule})`}`,
        );
        broken = true;
        break;
      }
      if (verdict.outcome !== "applied") {
        seen(`${verdict.outcome}: ${verdict.rule}`);
        if (event.name === TIMER) report.staleTimers += 1;
        if (!RULES[verdict.rule].test(row.reason ?? "")) {
          mismatch(
            `${where}: the model expects a reason of kind ${verdict.rule}, the database says "${row.reason}"`,
          );
        }
        if (row.from_state !== (stack?.state ?? null))
          mismatch(`${where}: ${row.outcome} but recorded from ${row.from_state}`);
        continue;
      }
      const timer = event.name === TIMER ? timerOf(event.key)?.name.split(":")[0] : undefined;
      if (timer === "timeout") report.timeouts += 1;
      if (timer === "retry") report.retriesAfterBackoff += 1;
      seen(
        `applied: ${timer ? `TIMER ${timer}` : isReport(event.name) ? event.name : event.name.startsWith("RETRY_") ? event.name : stack ? "declared event" : "first event (creates the stack)"}`,
      );
      if (!isReport(event.name) && !event.name.startsWith("RETRY_") && !timer) {
        const machine = stack?.machine ?? event.machine ?? "?";
        report.transitions.add(`${machine} ${stack?.state ?? INIT} ${event.name}`);
      }
      const got = canonical({
        from: row.from_state,
        to: row.to_state,
        path: row.path ?? [],
        dispatch: [...recorded].sort(byTask),
        removed: row.detail?.removed === true,
      });
      const want = canonical({
        from: verdict.from,
        to: verdict.to,
        path: verdict.path,
        dispatch: [...verdict.dispatch].sort(byTask),
        removed: verdict.removed,
      });
      if (got !== want) {
        mismatch(`${where}: database ${got} but the model ${want}`);
        broken = true;
        break;
      }
      if (verdict.failure) {
        if (verdict.failure.kind === "timeout") {
          const task = stack?.tasks.find((t) => t.name === verdict.failure?.task);
          if (task) timedOut.add(task.token);
        }
        const note = failureNote(verdict.failure);
        if (row.detail?.note !== note)
          mismatch(`${where}: the model expects the note "${note}", the database says "${row.detail?.note}"`);
      }
      if ((row.detail?.retryAt !== undefined) !== (verdict.failure?.retryInMs !== undefined))
        mismatch(
          `${where}: detail.retryAt is ${row.detail?.retryAt ?? "absent"}, the model expects ${verdict.failure?.retryInMs === undefined ? "no retry" : "a retry"}`,
        );
      // "The deadline is set when an attempt is dispatched: timeout after the dispatch."
      const spec = specOf(stack?.machine ?? event.machine ?? "");
      for (const d of verdict.dispatch) {
        const message = messages.get(d.token);
        if (!message || !spec) continue;
        const after = deadlineAfterMs(spec, d.task);
        const want =
          after === undefined || message.dispatchedAt === undefined
            ? undefined
            : new Date(Date.parse(message.dispatchedAt) + after).toISOString();
        if (message.deadline !== want)
          mismatch(
            `${where}: the task message of ${d.task} carries deadline ${message.deadline}, the model expects ${want}`,
          );
      }
      for (const d of verdict.dispatch) {
        if (usedTokens.has(d.token)) mismatch(`${where}: dispatch token ${d.token} was used before`);
        usedTokens.add(d.token);
        dispatched.set(d.token, stackId);
      }
      stack = verdict.stack;
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
    else if (stack && row && comparableStack(stack) !== comparableStack(refStackOf(row)))
      mismatch(
        `${stackId}: database ${comparableStack(refStackOf(row))} but the model ${comparableStack(stack)}`,
      );
  }
  for (const id of live.keys()) if (!byStack.has(id)) mismatch(`${id}: a live stack without history`);

  report.dispatches = dispatched.size;
  const inOutbox = new Map(outbox.map((o) => [o.token, o]));
  for (const [token, stackId] of dispatched) {
    const row = inOutbox.get(token);
    if (!row) {
      mismatch(`${stackId}: dispatch ${token} is not in the outbox`);
      continue;
    }
    if (row.sent_at === null) report.unsent += 1;
    const received = run.taskDeliveries.get(token);
    if (run.deadLetteredTasks.has(token)) report.tasksDeadLettered += 1;
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
