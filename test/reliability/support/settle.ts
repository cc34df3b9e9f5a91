import type { MachineSpec } from "@stackseam/core";
import type pg from "pg";
import type { DeadLetter } from "./event-queue.js";
import { type ReferenceStackRow, refStackOf } from "./reference-check.js";
import { decide, isReport, type RefStack, refEventOf } from "./reference-model.js";

/**
 * On: the fault run ASSERTS that no stack can never settle (off: it only reports the number).
 *
 * The harness runs the State Manager's tick at every quiet moment, after moving the run's clock a
 * day on (it re-sends outbox rows left unsent and fires every timer), so a stack a timer can move
 * is moved before the census. Every task of the stress machines has a `timeout`, so a PENDING task
 * whose report will never arrive (its task message or its report dead-lettered) times out, and is
 * retried after its backoff or left in ERROR for a person: settled either way. The reference model
 * judges those TIMER events by docs/spec-reference.md ("Time"). Off is only for a workload whose
 * tasks cannot time out, where a lost message wedges its stack for good.
 */
export const ASSERT_EVERY_STACK_SETTLES = true;

/** Why a stack can never settle, in the order the census looks for it. */
export const WEDGE_CAUSES = [
  "task message never sent (its event was dead-lettered after it committed; no tick re-sent it)",
  "task message dead-lettered (the Task Satisfier crashed on every delivery)",
  "report dead-lettered",
  "PENDING with no report coming and no known cause",
  "event dead-lettered before it was processed (a redrive would move the stack)",
] as const;
export type WedgeCause = (typeof WEDGE_CAUSES)[number];

export interface CensusInput {
  /** The event DLQ as it stands (not yet drained by a person). */
  deadLetters: readonly DeadLetter[];
  /** Tokens of task messages the task queue dead-lettered. */
  deadTasks: ReadonlySet<string>;
}

export interface Census {
  /** Stacks that can never settle, with the first cause found. */
  wedged: Map<string, WedgeCause>;
  /** Dead-lettered messages whose event was never processed. */
  unprocessedDeadLetters: DeadLetter[];
  /** Stacks with outbox rows still unsent. */
  unsentStacks: Set<string>;
  /** Live stacks with a PENDING task. */
  pendingStacks: Set<string>;
  /** Live stacks with a task in ERROR (settled: a person can act on the recorded failure). */
  errorStacks: Set<string>;
}

interface StackTaskRow {
  name: string;
  token: string;
  status: string;
}

/**
 * Which stacks can never settle, judged at a quiescent moment (every queue drained or
 * dead-lettered, the Task Satisfier idle, nothing on its way, the tick done with all it would do)
 * before any person acts; see
 * docs/reliability.md, "Stacks that can never settle".
 */
export async function settleCensus(
  db: pg.Pool,
  specs: ReadonlyMap<string, MachineSpec>,
  input: CensusInput,
): Promise<Census> {
  const rows = (
    await db.query<ReferenceStackRow>("SELECT id, machine, state, metadata, tasks, entry FROM stacks")
  ).rows;
  const live = new Map(rows.map((r) => [r.id, r]));
  const unsent = (
    await db.query<{ stack_id: string; token: string }>(
      "SELECT stack_id, token FROM outbox WHERE sent_at IS NULL",
    )
  ).rows;
  const unsentTokens = new Set(unsent.map((r) => r.token));
  const keys = input.deadLetters.map((d) => d.key);
  const ids = input.deadLetters.map((d) => d.stackId ?? "");
  const done = new Set(
    (
      await db.query<{ stack_id: string; event_key: string }>(
        `SELECT h.stack_id, h.event_key FROM history h
           JOIN unnest($1::text[], $2::text[]) AS d(stack_id, event_key)
             ON h.stack_id = d.stack_id AND h.event_key = d.event_key
          WHERE NOT h.duplicate`,
        [ids, keys],
      )
    ).rows.map((r) => `${r.stack_id}\0${r.event_key}`),
  );
  const unprocessed = input.deadLetters.filter((d) => !done.has(`${d.stackId ?? ""}\0${d.key}`));
  const deadReports = new Set(
    unprocessed
      .map((d) => refEventOf(d.body, d.messageId))
      .filter((e) => isReport(e.name) && e.token !== undefined)
      .map((e) => e.token as string),
  );

  const census: Census = {
    wedged: new Map(),
    unprocessedDeadLetters: unprocessed,
    unsentStacks: new Set(unsent.map((r) => r.stack_id)),
    pendingStacks: new Set(),
    errorStacks: new Set(),
  };
  for (const row of rows) {
    const tasks = row.tasks as unknown as StackTaskRow[];
    if (tasks.some((t) => t.status === "ERROR")) census.errorStacks.add(row.id);
    for (const task of tasks) {
      if (task.status !== "PENDING") continue;
      census.pendingStacks.add(row.id);
      const cause: WedgeCause = unsentTokens.has(task.token)
        ? WEDGE_CAUSES[0]
        : input.deadTasks.has(task.token)
          ? WEDGE_CAUSES[1]
          : deadReports.has(task.token)
            ? WEDGE_CAUSES[2]
            : WEDGE_CAUSES[3];
      if (!census.wedged.has(row.id)) census.wedged.set(row.id, cause);
    }
  }
  const specOf = (name: string) => specs.get(name);
  for (const d of unprocessed) {
    const id = d.stackId ?? "";
    if (census.wedged.has(id)) continue;
    const event = refEventOf(d.body, d.messageId);
    const row = live.get(id);
    const stack: RefStack | null = row ? refStackOf(row) : null;
    const verdict = decide(specOf, stack, event, (task) => `(redrive of ${task})`);
    if (verdict.outcome === "applied") census.wedged.set(id, WEDGE_CAUSES[4]);
  }
  return census;
}
