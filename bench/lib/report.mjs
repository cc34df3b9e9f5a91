// Turns the measurements into docs/performance.md (and the summary table printed by the run).
// Every number in the document comes from the run that wrote it.
import { otherWorkSummary } from "./other-work.mjs";
import { fmt, mark, spread, table } from "./stats.mjs";

export const TARGETS = {
  ratio: 0.8, // engine / minimal-SQL ceiling, at 1 and at 8 workers
  jsCpuMs: 0.5, // engine JavaScript CPU per event at 8 workers
  pgCpuMs: 0.5, // Postgres CPU per event at 8 workers
  statements: 3, // per event, common events
  notifyPct: 5, // what the NOTIFY trigger may cost
  readMs: 20, // p95 server time of each read at scale
  scaleRatio: 0.9, // events/s at scale / empty
  scaleMinutes: 30, // the scale section, seeding included
  pruneBatchMs: 1000, // the longest prune statement (rows locked that long)
  firstEventMs: 100,
  s3PerTtl: 1,
  devP50: 250,
  importMs: 150,
  zipMB: 1.5,
  rssMB: 128,
};

/** Lambda's price for the cost estimate (us-east-1, arm64, first tier). */
export const LAMBDA_PRICE = {
  gbSecond: 0.0000133334,
  perMillionRequests: 0.2,
  memoryMB: 512,
  asOf: "2026-05",
  where: "us-east-1, arm64, the first 7.5 billion GB-seconds of a month",
};

const SECTION_TITLES = {
  throughput: "§1 State Manager throughput",
  notify: "§2 The NOTIFY trigger",
  pool: "§3 Pool size",
  spec: "§5 Spec loading",
  dev: "§6 Dev-mode latency",
  cold: "§7 Cold start",
  memory: "§8 Memory",
  scale: "§9 Flat at scale",
};

const ms = (v) => `${fmt(v, v >= 100 ? 0 : v >= 10 ? 1 : 2)} ms`;
const mb = (bytes) => bytes / 1e6;
const n0 = (v) => fmt(v, 0);

function topGroups(summary, n = 5) {
  return summary.groups
    .slice(0, n)
    .map((g) => `${g.name} ${fmt(g.pct, 0)} % (${fmt(g.ms, g.ms >= 10 ? 0 : 1)} ms)`)
    .join("; ");
}

/** Cost of a million events at the measured billed duration per batch of 10. */
export function costPerMillion(billedMeanMs, batchSize = 10) {
  const invocations = 1e6 / batchSize;
  const compute =
    invocations * (billedMeanMs / 1000) * (LAMBDA_PRICE.memoryMB / 1024) * LAMBDA_PRICE.gbSecond;
  const requests = (invocations / 1e6) * LAMBDA_PRICE.perMillionRequests;
  return { compute, requests, total: compute + requests };
}

const at = (t, n) => t.summary.find((s) => s.n === n);
const kinds = ["LAUNCH", "TASK_COMPLETED", "TOUCH"];

function summaryRows(r) {
  const rows = [];
  const t = r.throughput;
  if (t) {
    for (const n of [1, 8]) {
      const s = at(t, n);
      if (!s) continue;
      rows.push([
        `Engine / minimal-SQL ceiling, ${n} worker${n > 1 ? "s" : ""}`,
        `${n0(s.engine.eventsPerSec)} / ${n0(s.minimal.eventsPerSec)} events/s = **${fmt(s.ratio, 2)}**`,
        `≥ ${TARGETS.ratio}`,
        mark(s.ratio >= TARGETS.ratio),
      ]);
    }
    const s8 = at(t, 8);
    if (s8) {
      rows.push([
        "Engine JavaScript CPU per event, 8 workers",
        ms(s8.engine.workerCpuMsPerEvent),
        `≤ ${TARGETS.jsCpuMs} ms`,
        mark(s8.engine.workerCpuMsPerEvent <= TARGETS.jsCpuMs),
      ]);
      rows.push([
        "Postgres CPU per event, 8 workers (engine run)",
        ms(s8.engine.postgresMsPerEvent),
        `≤ ${TARGETS.pgCpuMs} ms`,
        mark(s8.engine.postgresMsPerEvent <= TARGETS.pgCpuMs),
      ]);
    }
    if (t.fresh) {
      rows.push([
        `The same with every container new (each run opens its pools), ${t.fresh.n} workers: engine / minimal events/s; Postgres CPU per event`,
        `${n0(t.fresh.engine.eventsPerSec)} / ${n0(t.fresh.minimal.eventsPerSec)} (ratio ${fmt(t.fresh.ratio, 2)}); ${ms(t.fresh.engine.postgresMsPerEvent)} (minimal ${ms(t.fresh.minimal.postgresMsPerEvent)})`,
        "",
        "",
      ]);
    }
    const s1 = at(t, 1);
    const st = kinds.map((k) => s1.engine.perPhase[k].statementsPerEvent);
    rows.push([
      `Statements per event (${kinds.join(" / ")})`,
      st.map((v) => fmt(v, 2)).join(" / "),
      `≤ ${TARGETS.statements}`,
      mark(st.every((v) => v <= TARGETS.statements)),
    ]);
  }
  const nt = r.notify;
  if (nt) {
    for (const s of nt.summary) {
      const cost = 1 - s.engineRatio;
      rows.push([
        `NOTIFY trigger (${nt.gated ? "migrations 003 + 009 + 010, one waiting CLI" : "migration 003"}), ${s.n} worker${s.n > 1 ? "s" : ""}: engine events/s with / without`,
        `${n0(s.engine.on.eventsPerSec)} / ${n0(s.engine.off.eventsPerSec)} (${cost >= 0 ? "−" : "+"}${fmt(Math.abs(cost) * 100, 1)} %)`,
        `costs ≤ ${TARGETS.notifyPct} %`,
        mark(cost * 100 <= TARGETS.notifyPct),
      ]);
    }
  }
  const p = r.pool;
  if (p) {
    const one = p.summary.find((s) => s.size === 1);
    const best = [...p.summary].sort((a, b) => b.engine.eventsPerSec - a.engine.eventsPerSec)[0];
    const def = p.summary.find((s) => s.size === p.defaultPool);
    rows.push([
      "One container: default pool vs 1 connection (records of a batch in parallel)",
      `pool ${p.defaultPool}: ${n0(def?.engine.eventsPerSec)} events/s vs ${n0(one?.engine.eventsPerSec)} (best: pool ${best.size}, ${n0(best.engine.eventsPerSec)})`,
      "",
      "",
    ]);
  }
  if (t) {
    const s1 = at(t, 1);
    const cost = costPerMillion(s1.engine.billedMeanMs);
    rows.push([
      `Lambda: billed duration per batch of 10, 1 container (p50 / p95); cost per million events at ${LAMBDA_PRICE.memoryMB} MB arm64`,
      `${ms(Math.ceil(s1.engine.batchP50))} / ${ms(Math.ceil(s1.engine.batchP95))}; $${fmt(cost.total, 3)}`,
      "",
      "",
    ]);
  }
  const sc = r.scale;
  if (sc) {
    for (const area of ["CLI", "wait", "dashboard", "tick"]) {
      const reads = sc.reads.filter((q) => q.area === area);
      if (reads.length === 0) continue;
      const worst = [...reads].sort((a, b) => b.worstP95 - a.worstP95)[0];
      const slow = reads.filter((q) => q.worstP95 > TARGETS.readMs);
      rows.push([
        `At ${fmt(sc.stacks, 0)} stacks / ${fmt(sc.history, 0)} history rows: ${area} reads, worst statement p95 server time`,
        `${ms(worst.worstP95)} (${worst.name})${slow.length > 0 ? `; over: ${slow.map((q) => q.name).join(", ")}` : ""}`,
        `each ≤ ${TARGETS.readMs} ms`,
        mark(slow.length === 0),
      ]);
    }
    for (const s of sc.throughput) {
      rows.push([
        `Events/s at that size / empty database, ${s.n} worker${s.n > 1 ? "s" : ""}`,
        `${n0(s.seeded.eventsPerSec)} / ${n0(s.empty.eventsPerSec)} = **${fmt(s.ratio, 2)}**`,
        `≥ ${TARGETS.scaleRatio}`,
        mark(s.ratio >= TARGETS.scaleRatio),
      ]);
    }
    rows.push([
      "Seeding that database (COPY-free: generate_series, indexes built after)",
      `${fmt(sc.seed.total / 60, 1)} min; the whole section ${fmt(sc.sectionMinutes, 1)} min`,
      `section ≤ ${TARGETS.scaleMinutes} min`,
      mark(sc.sectionMinutes <= TARGETS.scaleMinutes),
    ]);
    if (sc.prune) {
      rows.push([
        "Prune history older than 90 d at that size while events flow: longest batch (row locks held)",
        `${ms(sc.prune.longestBatchMs)} (${fmt(sc.prune.deleted, 0)} rows in ${fmt(sc.prune.seconds, 0)} s; events/s during / before ${sc.prune.ratio === null ? "–" : fmt(sc.prune.ratio, 2)})`,
        `≤ ${TARGETS.pruneBatchMs} ms`,
        mark(sc.prune.longestBatchMs <= TARGETS.pruneBatchMs),
      ]);
    }
  }
  const c = r.cold;
  if (c) {
    const sm = c["state-manager"];
    rows.push([
      "First event after a cold start, specs on S3 (State Manager zip)",
      `${ms(sm.firstMs)} (then ${ms(sm.secondMs)} for the next)`,
      `≤ ${TARGETS.firstEventMs} ms`,
      mark(sm.firstMs <= TARGETS.firstEventMs),
    ]);
    if (sm.compileCache) {
      const cc = sm.compileCache;
      rows.push([
        "Node compile cache (portable, same Node and CPU): import + first event, with / without",
        `${ms(cc.with.importMs + cc.with.firstMs)} / ${ms(cc.without.importMs + cc.without.firstMs)}`,
        "",
        "",
      ]);
    }
  }
  const s = r.spec;
  if (s) {
    rows.push([
      "S3 requests per 1,000 events, steady state (TTL 30 s)",
      `${fmt(s.steady.perThousand, 2)} (${s.steady.steadyRequests} in ${fmt(s.steady.ms / 1000, 1)} s; cold load: ${s.steady.coldRequests})`,
      `≤ ${TARGETS.s3PerTtl} per TTL per machine`,
      mark(s.steady.steadyRequests <= Math.ceil(s.steady.ms / 30_000) * TARGETS.s3PerTtl),
    ]);
    rows.push([
      `S3 requests per TTL period (TTL ${s.ttl.ttlSeconds} s, events arriving throughout)`,
      `${fmt(s.ttl.listsPerPeriod, 2)} listings + ${s.ttl.gets} gets (${s.ttl.lists} listings in ${fmt(s.ttl.periods, 1)} periods)`,
      `≤ ${TARGETS.s3PerTtl}`,
      mark(s.ttl.listsPerPeriod <= TARGETS.s3PerTtl + 0.01 && s.ttl.gets === 0),
    ]);
  }
  const d = r.dev;
  if (d) {
    rows.push([
      "Dev mode, send → stack in RUN (instant task)",
      `p50 ${ms(d.total.p50)}, p95 ${ms(d.total.p95)}`,
      `p50 ≤ ${TARGETS.devP50} ms`,
      mark(d.total.p50 <= TARGETS.devP50),
    ]);
  }
  if (c) {
    for (const [name, f] of Object.entries(c)) {
      rows.push([
        `${name} zip size`,
        `${fmt(mb(f.zipBytes), 2)} MB`,
        `≤ ${TARGETS.zipMB} MB`,
        mark(mb(f.zipBytes) <= TARGETS.zipMB),
      ]);
      rows.push([
        `${name}: import index.mjs, fresh process (median of ${f.runs})`,
        ms(f.importMs),
        `≤ ${TARGETS.importMs} ms`,
        mark(f.importMs <= TARGETS.importMs),
      ]);
    }
  }
  const m = r.memory;
  if (m) {
    rows.push([
      `Peak RSS, State Manager handling ${m.lambda128.events.toLocaleString("en-US")} events, V8 heap sized as for a 128 MB Lambda`,
      `${fmt(m.lambda128.maxRssMB, 0)} MB`,
      `≤ ${TARGETS.rssMB} MB`,
      mark(m.lambda128.maxRssMB <= TARGETS.rssMB),
    ]);
  }
  return rows;
}

const MODE_NAMES = { engine: "Engine", minimal: "Minimal-SQL ceiling", replay: "Driver-only replay" };

function throughputSection(t, machine) {
  const out = [];
  out.push(
    `${t.stacks.toLocaleString("en-US")} stacks, ${t.events.toLocaleString("en-US")} events per run of \`bench/specs/qa-env.yml\` (the example machine, with its idle TTL, task timeouts and schedules): LAUNCH (first event: creates the stack, dispatches provision-env, writes its timeout and TTL timers, sends the task message to the fauxqs task queue), TASK_COMPLETED with the real token read back from the outbox (PROVISION → NEXT → RUN; the timeout timer goes), TOUCH (no-op, metadata merge; the idle TTL and its warning move). Each worker is a worker thread with its own pg pool and SDK clients — one Lambda container — pulling SQS-shaped batches of 10 records; it keeps its pool's connections from run to run (none idles out), as a container under steady load keeps them from one invocation to the next (a run where every container is new is measured separately, below the CPU table). Three implementations run the same workload on emptied tables, side by side in each repetition:`,
  );
  out.push("");
  out.push(
    `- **Engine**: \`createStateManager(…).handler\`, configured as the Lambda handler configures it (pool of ${t.pool} = \`POSTGRES_POOL_MAX\`'s default, as many stacks of a batch at once; specs from S3 via \`s3MachineSource\`; INFO logs written to stdout as in Lambda, where it is a pipe Node writes synchronously — a batch's lines in one write, see \`docs/state-manager.md\` — here a FIFO per worker that the main thread reads and drops).`,
    "- **Minimal-SQL ceiling** (`bench/lib/minimal-sql.mjs`): the same semantics by hand with `pg` and the fewest round trips the design allows — per event, lock or create the row, one update, one history insert with the idempotency index, the timers, all in the statements described there, after one read per batch of the stacks its records start by reading (as the engine reads them); task messages per batch after commit; the same pool and concurrency — with no validation, spec, logging or query builder. The target compares the engine with this.",
    "- **Driver-only replay**: every statement the engine sent in a run of the same workload made just before it (text and parameters, recorded per connection; the measured engine run records nothing, since keeping every statement would charge the engine CPU and GC the others do not pay), replayed by the same number of workers, each statement waiting for those that had finished before it in the recording: the engine's SQL without the engine (what used to be called the ceiling).",
  );
  out.push("");
  out.push(
    `${t.reps} repetitions; the ratio is taken per repetition and its median shown (the spread in brackets). Every run is checked: all stacks end in RUN, no batch item failures, one task message per stack on the queue.`,
  );
  out.push("");
  out.push(
    table(
      [
        "Workers",
        "Engine events/s",
        "Minimal-SQL events/s",
        "Replay events/s",
        "Engine / minimal",
        "Engine / replay",
        "Engine batch of 10: p50 / p95",
        "Machine CPU busy (engine run)",
      ],
      t.summary.map((s) => [
        String(s.n),
        `**${n0(s.engine.eventsPerSec)}** (${spread(s.engine.runs, 0) || "1 run"})`,
        `${n0(s.minimal.eventsPerSec)} (${spread(s.minimal.runs, 0) || "1 run"})`,
        `${n0(s.replay.eventsPerSec)}`,
        `**${fmt(s.ratio, 2)}** (${spread(s.ratios, 2) || "1 run"})`,
        fmt(s.replayRatio, 2),
        `${ms(s.engine.batchP50)} / ${ms(s.engine.batchP95)}`,
        `${fmt(s.engine.machineBusyPct, 0)} %`,
      ]),
    ),
  );
  out.push("");
  out.push("By event kind (median events/s, engine / minimal / replay):");
  out.push("");
  out.push(
    table(
      ["Workers", ...kinds],
      t.summary.map((s) => [
        String(s.n),
        ...kinds.map(
          (k) =>
            `${n0(s.engine.perPhase[k].eventsPerSec)} / ${n0(s.minimal.perPhase[k].eventsPerSec)} / ${n0(s.replay.perPhase[k].eventsPerSec)}`,
        ),
      ]),
    ),
  );
  const one = t.summary[0];
  out.push("");
  out.push(
    `Statements per event, counted on the connections (BEGIN/COMMIT included; the outbox flush of each batch shared by its 10 events): ${kinds
      .map(
        (k) =>
          `${k} ${fmt(one.engine.perPhase[k].statementsPerEvent, 2)} (minimal ${fmt(one.minimal.perPhase[k].statementsPerEvent, 2)})`,
      )
      .join(", ")}.`,
  );
  out.push("");
  out.push(
    "CPU per event (median over runs; thread CPU from `process.threadCpuUsage`; Postgres from `/proc`: the sessions of the run's database and the server's background processes such as the WAL writer — not other databases' sessions on this shared server; the main thread runs fauxqs and drains the logs):",
  );
  out.push("");
  out.push(
    table(
      [
        "Workers",
        "Engine threads",
        "Minimal threads",
        "Replay threads",
        "Postgres (engine / minimal / replay run)",
        "Main thread (engine run)",
        "Log bytes per event",
      ],
      t.summary.map((s) => [
        String(s.n),
        ms(s.engine.workerCpuMsPerEvent),
        ms(s.minimal.workerCpuMsPerEvent),
        ms(s.replay.workerCpuMsPerEvent),
        `${ms(s.engine.postgresMsPerEvent)} / ${ms(s.minimal.postgresMsPerEvent)} / ${ms(s.replay.postgresMsPerEvent)}`,
        ms(s.engine.mainThreadMsPerEvent),
        n0(s.engine.logBytesPerEvent),
      ]),
    ),
  );
  if (t.fresh) {
    const f = t.fresh;
    const warm = at(t, f.n);
    out.push("");
    out.push(
      `**Every container new.** The same workload at ${f.n} workers, each mode's pools closed before its run, so each run opens its ${f.n * t.pool} connections (the server starts a session for each and fills its caches; both kinds of run plan their prepared statements again once per connection, since emptying the tables between runs invalidates the plans); ${f.engine.runs.length} repetition${f.engine.runs.length === 1 ? "" : "s"}: engine ${n0(f.engine.eventsPerSec)} events/s, minimal ${n0(f.minimal.eventsPerSec)} (ratio ${fmt(f.ratio, 2)}); Postgres CPU per event ${ms(f.engine.postgresMsPerEvent)} / ${ms(f.minimal.postgresMsPerEvent)} (engine / minimal), against ${ms(warm.engine.postgresMsPerEvent)} / ${ms(warm.minimal.postgresMsPerEvent)} with the connections kept. What a new connection costs is spread over the events it serves: here ${n0(t.events / (f.n * t.pool))} each; in Lambda, every event it serves until it sits idle for a minute or its container ends.`,
    );
  }
  if (t.profile) {
    const modes = Object.keys(t.profile);
    const names = [...new Set(modes.flatMap((m) => t.profile[m].groups.map((g) => g.name)))];
    const per = (p, name) => p.groups.find((g) => g.name === name)?.msPerEvent ?? 0;
    names.sort((a, b) => per(t.profile.engine, b) - per(t.profile.engine, a));
    out.push("");
    out.push(
      `Where one worker's time goes (V8 sampling profiles of separate 1-worker runs, ${t.profile.engine.events.toLocaleString("en-US")} events each; a sample counts whenever the thread is not idle, so time blocked in a syscall or waiting for a core on a busy machine is included and totals differ from the thread CPU above; time inside Node's built-ins is charged to the package that called them, so socket writes count for pg or the SDK):`,
    );
    out.push("");
    out.push(
      table(
        ["Code", ...modes.map((m) => `${MODE_NAMES[m]}, ms per event`)],
        [
          ...names
            .filter((n) => modes.some((m) => per(t.profile[m], n) >= 0.001))
            .map((n) => [n, ...modes.map((m) => fmt(per(t.profile[m], n), 3))]),
          ["**Total**", ...modes.map((m) => `**${fmt(t.profile[m].msPerEvent, 3)}**`)],
        ],
      ),
    );
  }
  out.push("");
  const s1 = at(t, 1);
  const s8 = at(t, 8);
  const best = [...t.summary].sort((a, b) => b.engine.eventsPerSec - a.engine.eventsPerSec)[0];
  const total = (x) => x.workerCpuMsPerEvent + x.postgresMsPerEvent + x.mainThreadMsPerEvent;
  out.push(
    `**Reading it.** The engine peaks at ${n0(best.engine.eventsPerSec)} events/s with ${best.n} worker${best.n > 1 ? "s" : ""}. At 1 worker it spends ${ms(s1.engine.workerCpuMsPerEvent)} of its own CPU per event against ${ms(s1.minimal.workerCpuMsPerEvent)} for the minimal ceiling and ${ms(s1.replay.workerCpuMsPerEvent)} for the bare driver replaying its SQL. This machine has ${machine.cores} cores shared by the workers, Postgres and fauxqs, so once they are saturated (${fmt(s8.engine.machineBusyPct, 0)} % busy at 8 workers) throughput is set by total CPU per event — ${ms(total(s8.engine))} for the engine (its threads + Postgres + fauxqs) against ${ms(total(s8.minimal))} for the minimal ceiling. In AWS each Lambda container has its own CPU and SQS is not on the database host, so there the ratio is governed by per-event latency instead; the 1-worker row is the closest stand-in.`,
  );
  return out.join("\n");
}

function notifySection(nt) {
  const out = [];
  const gated = nt.gated === true;
  out.push(
    gated
      ? `Migration 003 adds a trigger that runs \`pg_notify\` for history rows (what \`stackseam wait\` and the \`--follow\` views sleep on). A NOTIFY takes a database-wide lock when its transaction commits, to queue the notification, so committers of notifying transactions serialise there. Since migration 009 the trigger notifies only stacks a waiter has registered for (\`stackseam_listen\`, which the CLI's feed calls), so an event of a stack nobody waits on queues nothing; since 010 its function runs only for a stack whose advisory key a registered waiter holds (a \`WHEN\` clause that takes the key for the writing transaction), so such an event runs no function either. Measured on §1's workload (${nt.stacks.toLocaleString("en-US")} stacks, ${nt.reps} repetitions): without the trigger; with it and one waiting CLI (LISTENing and registered for one stack of the run); and with it and a waiter on every stack of the run (what the trigger cost before 009). The trigger is dropped and re-created between runs, the order rotated:`
      : `Migration 003 adds a trigger that runs \`pg_notify\` for every history row (what \`stackseam wait\` and the \`--follow\` views sleep on). A NOTIFY takes a database-wide lock when its transaction commits, to queue the notification, so committers of notifying transactions serialise there. Measured on §1's workload (${nt.stacks.toLocaleString("en-US")} stacks, ${nt.reps} repetitions, a session LISTENing on one stack's channel as a waiting CLI would), the trigger dropped and re-created between runs, the order alternated:`,
  );
  out.push("");
  const head = [
    "Workers",
    gated ? "Engine events/s, one waiter / no trigger" : "Engine events/s with / without",
    gated ? "Engine: one waiter ÷ no trigger" : "Engine: with ÷ without",
    "Minimal events/s with / without",
    "Minimal: with ÷ without",
    "Postgres ms per event, engine with / without",
  ];
  if (gated) head.push("Engine, a waiter on every stack: events/s; ÷ no trigger");
  out.push(
    table(
      head,
      nt.summary.map((s) => {
        const row = [
          String(s.n),
          `${n0(s.engine.on.eventsPerSec)} / ${n0(s.engine.off.eventsPerSec)}`,
          `**${fmt(s.engineRatio, 3)}** (${spread(s.engineRatios, 3) || "1 run"})`,
          `${n0(s.minimal.on.eventsPerSec)} / ${n0(s.minimal.off.eventsPerSec)}`,
          `${fmt(s.minimalRatio, 3)} (${spread(s.minimalRatios, 3) || "1 run"})`,
          `${ms(s.engine.on.postgresMsPerEvent)} / ${ms(s.engine.off.postgresMsPerEvent)}`,
        ];
        if (gated)
          row.push(
            `${n0(s.engine.all.eventsPerSec)}; ${fmt(s.engineAllRatio, 3)} (${spread(s.engineAllRatios, 3) || "1 run"})`,
          );
        return row;
      }),
    ),
  );
  out.push("");
  const worst = Math.max(...nt.summary.map((s) => 1 - s.engineRatio));
  if (gated) {
    const all = Math.max(...nt.summary.map((s) => 1 - s.engineAllRatio));
    out.push(
      `**Reading it.** With one waiting CLI the trigger costs ${worst <= 0 ? "the engine no measurable throughput here" : `${worst * 100 <= TARGETS.notifyPct ? "at most" : "up to"} ${fmt(worst * 100, 1)} % of the engine's throughput here`}: its other stacks' events take their stack's advisory key in the trigger's \`WHEN\` clause, run no function and queue nothing. With a waiter on every stack each commit notifies again, and it costs up to ${fmt(Math.max(0, all) * 100, 1)} %: the price is paid only for stacks someone waits on.`,
    );
  } else
    out.push(
      worst * 100 <= TARGETS.notifyPct
        ? `**Reading it.** The trigger costs at most ${fmt(Math.max(0, worst) * 100, 1)} % of the engine's throughput here (within the run-to-run spread): one history row per event means one NOTIFY per commit, and the commit lock is short next to an event's own work. It stays.`
        : `**Reading it.** The trigger costs up to ${fmt(worst * 100, 1)} % of the engine's throughput here. The alternative is for waiters to poll the history index (\`history_stack\`: the newest id of one stack, an index-only lookup) every few hundred milliseconds instead of LISTENing, which costs the write path nothing.`,
    );
  return out.join("\n");
}

function poolSection(p) {
  const out = [];
  out.push(
    `One container (one worker), §1's workload, at several \`POSTGRES_POOL_MAX\` values: the handler processes as many stacks of a batch at once as it has connections (records of one stack stay in order). ${p.reps} repetitions, sizes in alternating order; the minimal ceiling with the same pool alongside.`,
  );
  out.push("");
  out.push(
    table(
      [
        "Pool",
        "Engine events/s",
        "Engine batch of 10: p50 / p95",
        "Minimal events/s",
        "Engine / minimal",
        "Postgres ms per event (engine)",
      ],
      p.summary.map((s) => [
        `${s.size}${s.size === p.defaultPool ? " (default)" : ""}`,
        `**${n0(s.engine.eventsPerSec)}** (${spread(s.engine.runs, 0) || "1 run"})`,
        `${ms(s.engine.batchP50)} / ${ms(s.engine.batchP95)}`,
        n0(s.minimal.eventsPerSec),
        fmt(s.engine.eventsPerSec / s.minimal.eventsPerSec, 2),
        ms(s.engine.postgresMsPerEvent),
      ]),
    ),
  );
  out.push("");
  out.push(
    `**The Lambda connection budget.** Each State Manager container opens at most \`POSTGRES_POOL_MAX\` connections (default ${p.defaultPool}), and the tick's container as many; SQS scales the function up to the event source mapping's \`MaximumConcurrency\` (or the function's reserved concurrency) containers. So the database must accept \`POSTGRES_POOL_MAX × (MaximumConcurrency + 1)\` connections, plus the CLI, the dashboard and migrations (a handful), below \`max_connections\` minus its reserved superuser slots. For example, \`MaximumConcurrency\` 10 at the default pool is ${p.defaultPool * 11} connections. A pool larger than a batch's distinct stacks (10 records) buys nothing, and on a small database a smaller pool with more containers spreads the same connections over more CPU. Connections are opened lazily (a container that never needs its fifth connection never opens it) and closed after a minute idle.`,
  );
  return out.join("\n");
}

function costSection(t) {
  const s1 = at(t, 1);
  const s8 = at(t, 8);
  const c1 = costPerMillion(s1.engine.billedMeanMs);
  const c8 = costPerMillion(s8.engine.billedMeanMs);
  return [
    `Lambda bills each invocation's duration rounded up to the millisecond, at the function's memory. From §1's engine runs (every batch of 10 records is one invocation):`,
    "",
    table(
      [
        "Containers (workers)",
        "Billed ms per batch: p50 / p95",
        "Mean billed ms",
        `Cost per million events at ${LAMBDA_PRICE.memoryMB} MB arm64`,
        "of which duration / requests",
      ],
      [s1, s8].map((s, i) => {
        const c = i === 0 ? c1 : c8;
        return [
          String(s.n),
          `${n0(Math.ceil(s.engine.batchP50))} / ${n0(Math.ceil(s.engine.batchP95))}`,
          fmt(s.engine.billedMeanMs, 1),
          `**$${fmt(c.total, 3)}**`,
          `$${fmt(c.compute, 3)} / $${fmt(c.requests, 3)}`,
        ];
      }),
    ),
    "",
    `Price used: $${LAMBDA_PRICE.gbSecond} per GB-second and $${fmt(LAMBDA_PRICE.perMillionRequests, 2)} per million requests (${LAMBDA_PRICE.where}), AWS Lambda's published price as of ${LAMBDA_PRICE.asOf} — check [aws.amazon.com/lambda/pricing](https://aws.amazon.com/lambda/pricing/) before relying on it. SQS, RDS and data transfer are not included. A month of 10 million events is ten times the per-million figure. Caveats: here Postgres is on the same host (a round trip is ~0.1 ms; to RDS in the same zone it is ~0.5–1 ms, and an event makes two), and a ${LAMBDA_PRICE.memoryMB} MB function gets about ${fmt(LAMBDA_PRICE.memoryMB / 1769, 2)} of a vCPU, slower than a core here for the JavaScript part (§1's CPU columns); the 1-container row, where the machine is least contended, is the better guide.`,
  ].join("\n");
}

function planSummary(plan) {
  if (!plan) return "";
  const scans = [
    ...plan.matchAll(
      /(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)(?: Backward)?(?: using (\w+))? on (\w+)/g,
    ),
  ].map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ""}${m[1] === "Seq Scan" || !m[2] ? ` on ${m[3]}` : ""}`);
  return [...new Set(scans)].join(", ");
}

function scaleSection(sc) {
  const out = [];
  const seed = sc.seed;
  out.push(
    `A database as a year of use leaves it (\`bench/lib/seed-scale.mjs\`): ${fmt(sc.stacks, 0)} stacks of qa-env (90 % in RUN, 1 % with a failed task), ${fmt(sc.history, 0)} history rows spread over 365 days and interleaved across stacks as traffic is, ${fmt(seed.counts.timers, 0)} timers of which ${fmt(sc.timersDue, 0)} due — ${fmt(seed.bytes / 2 ** 30, 2)} GiB. Seeded in ${fmt(seed.total / 60, 1)} min (${Object.entries(
      seed.seconds,
    )
      .map(([k, v]) => `${k} ${fmt(v, 0)} s`)
      .join(
        ", ",
      )}): \`INSERT … SELECT … FROM generate_series\` in the server, the history and timers indexes dropped for the load and built after, then \`VACUUM ANALYZE\` as autovacuum would leave the tables. The whole section took ${fmt(sc.sectionMinutes, 1)} min (\`node bench/scale.mjs\` runs it alone).`,
  );
  out.push("");
  out.push(
    `**Reads.** Each read is the real function the command or page calls (\`listStacks\`, \`getStack\`, \`getHistory\`, the CLI's \`watch/reads.js\`, the dashboard's \`dashboard-queries.ts\`, the tick's claim statement as \`createTick\` sends it), run up to ${Math.max(...sc.reads.map((q) => q.runs))} times (at most 20 s for a slow one) with varying stacks. Each statement it sends is timed twice: the round trip from the client, and the server's own time for the same statement and parameters (\`EXPLAIN (ANALYZE, TIMING OFF)\`: planning + execution, which a client thread waiting for a core does not inflate). The target is on the server time.`,
  );
  out.push("");
  const rows = [];
  for (const q of sc.reads) {
    for (const [i, s] of q.statements.entries()) {
      rows.push([
        i === 0 ? `${q.area}: ${q.name}` : "",
        `\`${s.text.replace(/\s+/g, " ").trim().slice(0, 70)}${s.text.length > 70 ? "…" : ""}\``.replace(
          /\|/g,
          "\\|",
        ),
        `${ms(s.serverP50)} / **${ms(s.serverP95)}**`,
        `${ms(s.p50)} / ${ms(s.p95)}`,
        planSummary(s.plan),
        mark(s.serverP95 <= TARGETS.readMs),
      ]);
    }
  }
  out.push(table(["Read", "Statement", "Server p50 / p95", "Round trip p50 / p95", "Plan reads", ""], rows));
  out.push("");
  out.push("Plans (`EXPLAIN (ANALYZE, BUFFERS)`, one run with the parameters of the first timed run):");
  out.push("");
  const seen = new Set();
  for (const q of sc.reads) {
    for (const s of q.statements) {
      if (seen.has(s.text)) continue;
      seen.add(s.text);
      out.push(
        `<details><summary>${q.area}: ${q.name} — ${planSummary(s.plan) || "no table scan"}</summary>`,
      );
      out.push("");
      out.push("```sql");
      out.push(s.text.replace(/\s+/g, " ").trim());
      out.push("```");
      out.push("");
      out.push("```");
      out.push(s.plan ?? "");
      out.push("```");
      out.push("");
      out.push("</details>");
      out.push("");
    }
  }
  out.push(
    `**Events at that size.** §1's workload (new stacks) on the seeded database and on an empty one, engine and minimal ceiling, alternated; every container new in each run (both databases' pools kept open together would take 96 connections):`,
  );
  out.push("");
  out.push(
    table(
      [
        "Workers",
        "Engine events/s seeded / empty",
        "Seeded ÷ empty",
        "Minimal events/s seeded / empty",
        "Postgres ms per event, seeded / empty",
      ],
      sc.throughput.map((s) => [
        String(s.n),
        `${n0(s.seeded.eventsPerSec)} / ${n0(s.empty.eventsPerSec)}`,
        `**${fmt(s.ratio, 2)}** (${spread(s.ratios, 2) || "1 run"})`,
        `${n0(s.minimalSeeded.eventsPerSec)} / ${n0(s.minimalEmpty.eventsPerSec)}`,
        `${ms(s.seeded.postgresMsPerEvent)} / ${ms(s.empty.postgresMsPerEvent)}`,
      ]),
    ),
  );
  if (sc.prune) {
    const p = sc.prune;
    out.push("");
    out.push(
      `**Pruning at that size while events flow.** \`prune({ historyOlderThanMs: 90 days })\` (what \`stackseam prune --history-older-than 90d\` runs) on the seeded database while one engine worker processes §1's workload in a loop: ${fmt(p.deleted, 0)} rows deleted in ${fmt(p.seconds, 0)} s, ${fmt(p.batches, 0)} batches of 5,000 rows (each one autocommit statement: p50 ${ms(p.batchP50)}, p95 ${ms(p.batchP95)}, longest ${ms(p.longestBatchMs)}); ${fmt(p.rowsLeft, 0)} rows left. Events/s before: ${n0(p.before)}; during: ${p.during === null ? "– (prune finished first)" : `${n0(p.during)} (${p.duringRuns} runs, ${fmt(p.ratio, 2)} of before)`}. The batches lock only the old rows they delete, which no event writes; what pruning costs the events is CPU and I/O on a shared 2-core machine.`,
    );
  }
  return out.join("\n");
}

function specSection(s) {
  const out = [];
  out.push(
    `One State Manager (\`createStateManager\` + \`s3MachineSource\` over fauxqs S3, the S3 client counting every command it sends through an SDK middleware). Default TTL (30 s): ${s.steady.events.toLocaleString("en-US")} events over ${fmt(s.steady.ms / 1000, 1)} s. Then a 1 s TTL with events arriving continuously for ${fmt(s.ttl.ms / 1000, 1)} s (${s.ttl.events.toLocaleString("en-US")} events), to see the revalidation rate.`,
  );
  out.push("");
  out.push(
    table(
      ["Measure", "Value"],
      [
        [
          "Cold load (first event of a container)",
          `${s.steady.coldRequests} requests (${Object.entries(s.steady.coldCounts)
            .map(([k, v]) => `${v} × ${k.replace("Command", "")}`)
            .join(", ")})`,
        ],
        [
          "Steady state, default TTL: requests per 1,000 events",
          `${fmt(s.steady.perThousand, 2)} (${s.steady.steadyRequests} in total)`,
        ],
        [
          `TTL ${s.ttl.ttlSeconds} s: listings per TTL period`,
          `${fmt(s.ttl.listsPerPeriod, 2)} (${s.ttl.lists} in ${fmt(s.ttl.periods, 1)} periods)`,
        ],
        [`TTL ${s.ttl.ttlSeconds} s: GetObject (spec unchanged)`, String(s.ttl.gets)],
        [`TTL ${s.ttl.ttlSeconds} s: requests per 1,000 events`, fmt(s.ttl.perThousand, 1)],
        ["Loading the spec (list + get + parse), warm process, median", ms(s.loadMs)],
        ["Parsing + validating qa-env.yml alone (`parseSpec`), median", ms(s.parseMs)],
      ],
    ),
  );
  out.push("");
  out.push(
    "A revalidation is one `ListObjectsV2` for all machines under the prefix; objects are fetched again only when their ETag changed. The first event after a cold start is in the cold-start table below (it includes the S3 load).",
  );
  return out.join("\n");
}

function devSection(d) {
  const out = [];
  out.push(
    `\`startDev\` (the runtime behind \`stackseam dev\`) in-process: fauxqs (${d.fallback ? "the bench's in-memory one, see the caveat" : "dev's own, with its SQLite store"}), the State Manager and Task Satisfier handlers behind the dev SQS pollers (4 event loops, 16 task loops, 1 s long polls), \`examples/functions\` as the Lambda functions, Postgres from DATABASE_URL. One stack at a time (after 5 warm-up stacks): send LAUNCH for \`qa-env\` with \`metadata.delayMs=0\`, wait until the State Manager logs the transition to RUN. Dev mode up in ${ms(d.startupMs)}. Every SQS call is timestamped (a wrapper on \`SQSClient.send\`) to split each round trip:`,
  );
  out.push("");
  out.push(
    table(
      ["Part", "p50", "p95"],
      [
        ["**Total: send → RUN**", `**${ms(d.total.p50)}**`, `**${ms(d.total.p95)}**`],
        [
          "Event queue waits (LAUNCH sent → received; report sent → received)",
          ms(d.eventQueue.p50),
          ms(d.eventQueue.p95),
        ],
        [
          "Engine (LAUNCH received → task message sent; report received → RUN committed)",
          ms(d.engine.p50),
          ms(d.engine.p95),
        ],
        ["Task queue wait (task message sent → received)", ms(d.taskQueue.p50), ms(d.taskQueue.p95)],
        [
          "Task Satisfier (received → report sent: run the function, send the report)",
          ms(d.task.p50),
          ms(d.task.p95),
        ],
        [
          "… of which the function itself (`task completed` durationMs)",
          ms(d.functionMs.p50),
          ms(d.functionMs.p95),
        ],
      ],
    ),
  );
  out.push("");
  out.push("The parts are medians of each part separately, so they need not add up to the median total.");
  if (d.fallback) {
    out.push("");
    out.push(
      `**Caveat:** dev mode's embedded SQS/S3 endpoint did not start in this run (\`${d.fallback}\`), so these figures were taken with \`AWS_ENDPOINT_URL\` pointing dev at the bench's in-memory fauxqs instead of its own SQLite-backed one.`,
    );
  }
  return out.join("\n");
}

function coldSection(c) {
  const out = [];
  out.push(
    "Both zips built by `scripts/build-release.mjs` into a temporary folder and extracted; each run is a fresh `node` process (no flags) that imports `index.mjs`, then calls `handler` twice. State Manager: a LAUNCH (specs on fauxqs S3, `MACHINE_LOCATOR=S3`, `DATABASE_URL`), so the first event pays for connecting to Postgres, listing and fetching the spec, parsing it, and the first SQS send. Task Satisfier: a real task message from that run, its Lambda invoke answered by a local stub of the Invoke API (no real Lambda exists locally), the report sent to fauxqs.",
  );
  out.push("");
  out.push(
    table(
      [
        "Function",
        "Zip",
        "index.mjs",
        "Import (median / p90)",
        "Process start → imported",
        "First event (median / p90)",
        "Second event",
        "RSS after 2 events",
      ],
      Object.entries(c).map(([name, f]) => [
        name,
        `${fmt(mb(f.zipBytes), 2)} MB`,
        `${fmt(mb(f.indexBytes), 2)} MB`,
        `**${ms(f.importMs)}** / ${ms(f.importP90)}`,
        ms(f.readyAt),
        `**${ms(f.firstMs)}** / ${ms(f.firstP90)}`,
        ms(f.secondMs),
        `${fmt(f.maxRssMB, 0)} MB`,
      ]),
    ),
  );
  out.push("");
  out.push(
    "Where the time goes — one extra profiled run per zip (V8 sampling profiler, started in the child around each step; bundle frames mapped back to their package through the release's source map; time inside Node's built-ins charged to the bundled code that called them; \"bundle glue\" is the bundle's unmapped top-level scope, where esbuild hoists every ES module's top-level statements):",
  );
  out.push("");
  out.push(
    table(
      ["Function", "Step", "CPU sampled", "Largest parts"],
      Object.entries(c).flatMap(([name, f]) => [
        [name, "import", ms(f.profile.import.totalMs), topGroups(f.profile.import, 6)],
        [name, "first event", ms(f.profile.first.totalMs), topGroups(f.profile.first, 6)],
      ]),
    ),
  );
  out.push("");
  for (const [name, f] of Object.entries(c)) {
    const b = f.profile.import.builtins;
    if (b.length > 0)
      out.push(
        `${name} import, Node time with no bundled caller (the ES module loader, Node's own modules the bundle imports): ${b
          .slice(0, 5)
          .map((x) => `\`${x.name}\` ${ms(x.ms)}`)
          .join(", ")}.`,
        "",
      );
  }
  out.push(
    `Bundle composition (from the build): ${Object.values(c)
      .map((f) => `\`${f.build}\``)
      .join("; ")}.`,
  );
  return out.join("\n");
}

/** Whether RSS kept growing after the first 1,000 events (a leak would show here). */
function growthNote(x) {
  const series = x.rssEvery1000;
  if (series.length < 3) return "Too few samples to judge growth (quick run).";
  const growth = series[series.length - 1] - series[0];
  const heap = `heap used at the end: ${fmt(x.memoryUsageMB.heapUsed, 0)} MB`;
  return Math.abs(growth) <= 8
    ? `With the heap bounded, RSS moves ${fmt(growth, 0)} MB between the first and the last thousand events (${heap}): nothing accumulates per event or per stack. The gap between the two runs is the young generation V8 allows itself, not live data.`
    : `With the heap bounded, RSS grows ${fmt(growth, 0)} MB between the first and the last thousand events (${heap}): worth a heap snapshot.`;
}

function memorySection(m) {
  const row = (label, x) => [
    label,
    `**${fmt(x.maxRssMB, 0)} MB**`,
    `${fmt(x.afterImportMB, 0)} MB`,
    x.rssEvery1000.map((v) => fmt(v, 0)).join(", "),
    `${fmt(x.memoryUsageMB.heapTotal, 0)} / ${fmt(x.memoryUsageMB.heapUsed, 0)} MB (new space ${fmt(x.heapSpacesMB.new_space, 0)} MB)`,
    fmt(x.eventsPerSec, 0),
  ];
  return [
    `The State Manager zip's \`index.mjs\` in a fresh process, configured as in Lambda (env vars, the default pool, specs on fauxqs S3), handling ${m.defaults.events.toLocaleString("en-US")} events in batches of 10 (LAUNCH, TASK_COMPLETED, TOUCH, DESTROY for ${(m.defaults.events / 4).toLocaleString("en-US")} stacks; every stack checked to end in TEARDOWN). Twice: with V8's heap limited as Lambda's Node.js bootstrap does for a 128 MB function (approximated by \`${m.lambda128.flags}\`), and with node's defaults, which size the young generation from this host's ${"{memory}"} GiB of RAM.`,
    "",
    table(
      [
        "V8 heap",
        "Peak RSS (`resourceUsage().maxRSS`)",
        "RSS after import",
        "RSS every 1,000 events (MB)",
        "Heap total / used at the end",
        "Events/s",
      ],
      [
        row(`128 MB Lambda sizing (\`${m.lambda128.flags}\`)`, m.lambda128),
        row("node defaults on this host", m.defaults),
      ],
    ),
    "",
    growthNote(m.lambda128),
  ].join("\n");
}

function compileCacheNote(cc) {
  const gain = cc.without.importMs + cc.without.firstMs - (cc.with.importMs + cc.with.firstMs);
  return [
    "",
    `**Node's compile cache** (\`NODE_COMPILE_CACHE\` with \`NODE_COMPILE_CACHE_PORTABLE=1\`): one run wrote the cache next to \`index.mjs\` (${fmt(cc.cacheBytes / 1e6, 2)} MB), the folder was copied to another path (as a zip lands in \`/var/task\`), then ${cc.runs} fresh processes with it and ${cc.runs} without, alternated:`,
    "",
    table(
      ["State Manager", "Import (median)", "First event (median)", "Import + first event"],
      [
        [
          "with the cache",
          ms(cc.with.importMs),
          ms(cc.with.firstMs),
          `**${ms(cc.with.importMs + cc.with.firstMs)}**`,
        ],
        [
          "without",
          ms(cc.without.importMs),
          ms(cc.without.firstMs),
          `**${ms(cc.without.importMs + cc.without.firstMs)}**`,
        ],
      ],
    ),
    "",
    `It saves ${ms(gain)} here — on the Node binary, CPU architecture and V8 flags that wrote it, and only those: the cache's folder is keyed by them and any other Node ignores it (silently, at no cost). Lambda's \`nodejs24.x\` runtime is arm64 here and takes Node patch releases without notice, so a cache built with the release (x64, today's Node) would never be read there; it pays only if the release's cache is generated on the runtime's own Node (an arm64 build step on the exact version, with the function's runtime version pinned). The release zip does not ship one: a byte-reproducible, signed zip cannot depend on which Node built it.`,
  ].join("\n");
}

function gaps(r) {
  const out = [];
  const t = r.throughput;
  if (t) {
    for (const n of [1, 8]) {
      const s = at(t, n);
      if (s && s.ratio < TARGETS.ratio)
        out.push(
          `- **Engine / minimal-SQL ceiling at ${n} worker${n > 1 ? "s" : ""}: ${fmt(s.ratio, 2)} < ${TARGETS.ratio}.** The engine spends ${ms(s.engine.workerCpuMsPerEvent)} of JavaScript CPU per event against ${ms(s.minimal.workerCpuMsPerEvent)} for the minimal ceiling${
            t.profile
              ? `; the largest parts of its sampled time: ${t.profile.engine.groups
                  .slice(0, 4)
                  .map((g) => `${g.name} ${fmt(g.msPerEvent, 3)} ms`)
                  .join(", ")}`
              : ""
          }.`,
        );
    }
    const s8 = at(t, 8);
    if (s8 && s8.engine.workerCpuMsPerEvent > TARGETS.jsCpuMs)
      out.push(
        `- **Engine JavaScript CPU at 8 workers: ${ms(s8.engine.workerCpuMsPerEvent)} > ${TARGETS.jsCpuMs} ms** (minimal ceiling: ${ms(s8.minimal.workerCpuMsPerEvent)}, bare driver: ${ms(s8.replay.workerCpuMsPerEvent)}).`,
      );
    if (s8 && s8.engine.postgresMsPerEvent > TARGETS.pgCpuMs)
      out.push(
        `- **Postgres CPU at 8 workers: ${ms(s8.engine.postgresMsPerEvent)} > ${TARGETS.pgCpuMs} ms per event** (the minimal ceiling's run: ${ms(s8.minimal.postgresMsPerEvent)}).`,
      );
  }
  const nt = r.notify;
  if (nt) {
    for (const s of nt.summary)
      if ((1 - s.engineRatio) * 100 > TARGETS.notifyPct)
        out.push(
          `- **The NOTIFY trigger costs ${fmt((1 - s.engineRatio) * 100, 1)} % at ${s.n} worker${s.n > 1 ? "s" : ""}** (see §2).`,
        );
  }
  const sc = r.scale;
  if (sc) {
    for (const q of sc.reads)
      if (q.worstP95 > TARGETS.readMs)
        out.push(
          `- **${q.area}: ${q.name} — ${ms(q.worstP95)} p95 server time > ${TARGETS.readMs} ms** (${q.statements
            .filter((s) => s.serverP95 > TARGETS.readMs)
            .map((s) => planSummary(s.plan))
            .join("; ")}).`,
        );
    for (const s of sc.throughput)
      if (s.ratio < TARGETS.scaleRatio)
        out.push(
          `- **Events/s at ${fmt(sc.stacks, 0)} stacks / ${fmt(sc.history, 0)} history rows, ${s.n} worker${s.n > 1 ? "s" : ""}: ${fmt(s.ratio, 2)} of an empty database < ${TARGETS.scaleRatio}.**`,
        );
    if (sc.sectionMinutes > TARGETS.scaleMinutes)
      out.push(
        `- **The scale section took ${fmt(sc.sectionMinutes, 1)} min > ${TARGETS.scaleMinutes} min.**`,
      );
    if (sc.prune && sc.prune.longestBatchMs > TARGETS.pruneBatchMs)
      out.push(`- **A prune batch took ${ms(sc.prune.longestBatchMs)} > ${TARGETS.pruneBatchMs} ms.**`);
  }
  const c = r.cold;
  if (c) {
    if (c["state-manager"].firstMs > TARGETS.firstEventMs)
      out.push(
        `- **First event after a cold start: ${ms(c["state-manager"].firstMs)} > ${TARGETS.firstEventMs} ms.** Profile of the first event: ${topGroups(c["state-manager"].profile.first, 4)}.`,
      );
    for (const [name, f] of Object.entries(c)) {
      if (f.importMs > TARGETS.importMs) {
        out.push(
          `- **${name} import ${ms(f.importMs)} > ${TARGETS.importMs} ms.** Profile of the import: ${topGroups(f.profile.import, 4)}.`,
        );
      }
    }
  }
  const d = r.dev;
  if (d && d.total.p50 > TARGETS.devP50)
    out.push(`- **Dev mode p50 ${ms(d.total.p50)} > ${TARGETS.devP50} ms.**`);
  if (d?.fallback)
    out.push(
      `- **\`stackseam dev\` could not start its embedded SQS/S3 endpoint:** \`${d.fallback}\` (§6 was measured against an external fauxqs instead).`,
    );
  const m = r.memory;
  if (m && m.lambda128.maxRssMB > TARGETS.rssMB)
    out.push(
      `- **Peak RSS ${fmt(m.lambda128.maxRssMB, 0)} MB > ${TARGETS.rssMB} MB** even with the heap sized for 128 MB.`,
    );
  return out.length > 0 ? out.join("\n") : "Every target is met on this run.";
}

/** The printed summary and the whole document. */
export function renderReport({ machine, results, failed = {}, command, quick, durationS, date }) {
  const rows = summaryRows(results);
  for (const [name, why] of Object.entries(failed))
    rows.push([`**${SECTION_TITLES[name]}: not measured**`, why, "", "❌"]);
  const summary = table(["What", "Measured", "Target", ""], rows);
  const load = machine.loadSamples?.length
    ? `${fmt(machine.loadAtStart, 2)} at the start; during the run ${fmt(Math.min(...machine.loadSamples), 2)}–${fmt(Math.max(...machine.loadSamples), 2)} (median ${fmt(machine.loadSamples.slice().sort((a, b) => a - b)[Math.floor(machine.loadSamples.length / 2)], 2)}, sampled every 10 s)`
    : fmt(machine.loadAtStart, 2);
  const other = otherWorkSummary(machine.otherCoresSamples);
  // Runs from before other work was measured judge by the load, which counts the bench's own work.
  const busy = other
    ? other.shared
    : (machine.loadSamples?.length ? Math.max(...machine.loadSamples) : machine.loadAtStart) >
      machine.cores / 2;
  const otherText = other
    ? `; processes other than the bench and its Postgres used ${fmt(other.median, 2)} cores (median; at most ${fmt(other.max, 2)}), read from /proc every 10 s`
    : "";
  const env = [
    `- **CPU:** ${machine.cpu}, ${machine.cores} cores (${machine.platform})`,
    `- **Memory:** ${machine.memoryGiB} GiB`,
    `- **Node:** ${machine.node}`,
    `- **Postgres:** ${machine.postgres}`,
    "- **SQS / S3:** fauxqs, in-process on 127.0.0.1 (the dev mode's own store for §6)",
    `- **Load average (1 min):** ${load} on ${machine.cores} cores, the bench's own workers and Postgres included${otherText}${busy ? " — **other work was running on the machine**; it depresses and scatters the absolute figures (ratios, taken side by side, suffer least)" : ""}`,
    `- **Run:** \`${command}\` on ${date}, ${fmt(durationS / 60, 1)} min${quick ? " (**quick smoke run: small samples, not for quoting**)" : ""}`,
  ].join("\n");
  const sections = [];
  if (results.throughput)
    sections.push(`## 1. State Manager throughput\n\n${throughputSection(results.throughput, machine)}`);
  if (results.notify) sections.push(`## 2. The NOTIFY trigger\n\n${notifySection(results.notify)}`);
  if (results.pool)
    sections.push(`## 3. Pool size and the connection budget\n\n${poolSection(results.pool)}`);
  if (results.throughput) sections.push(`## 4. Lambda cost\n\n${costSection(results.throughput)}`);
  if (results.spec) sections.push(`## 5. Spec loading from S3\n\n${specSection(results.spec)}`);
  if (results.dev) sections.push(`## 6. End-to-end latency in dev mode\n\n${devSection(results.dev)}`);
  if (results.cold)
    sections.push(
      `## 7. Cold start\n\n${coldSection(results.cold)}${results.cold["state-manager"].compileCache ? compileCacheNote(results.cold["state-manager"].compileCache) : ""}`,
    );
  if (results.memory)
    sections.push(`## 8. Memory\n\n${memorySection(results.memory).replace("{memory}", machine.memoryGiB)}`);
  if (results.scale) sections.push(`## 9. Flat at scale\n\n${scaleSection(results.scale)}`);
  const document = `# Performance

Generated by \`${command}\`: every figure below was measured by that run on the machine described
here — none is typed by hand, and rerunning the command rewrites this file. Machines are noisy:
figures are medians of several runs (the spread is shown), and ratios compare runs made side by
side. The benchmarks live in \`bench/\`; they are not part of the test suite and assert nothing.

Rerun: \`npm run bench\` (builds the workspace, then \`node bench/run.mjs\`; uses \`DATABASE_URL\`
when set — a server where it may create and drop scratch databases and open about 75 connections at
once — else an embedded Postgres).
\`npm run bench -- --quick\` is a smoke run that prints the table without writing this file;
\`-- --only ${Object.keys(SECTION_TITLES).join(",")}\` runs a subset (the slow one, \`scale\`, is also
\`node bench/scale.mjs\`). A change worth a few per cent is lost in the spread between two such
runs: \`npm run bench:ab -- --rev <commit>\` measures this tree's engine against another commit's side
by side, alternated, on §1's workload.

## Machine

${env}

## Summary

${summary}

## Gaps

${gaps(results)}

${sections.join("\n\n")}

## Method notes

- Nothing is mocked except the Lambda Invoke API in §7 (a local HTTP stub; there is no local Lambda). Postgres is real (fresh database per section, migrations applied), SQS and S3 are fauxqs over HTTP, the State Manager is the real handler (the built package in §1–§5 and §9, the release zip in §7–§8, the dev runtime in §6).
- Everything shares one machine: worker threads, Postgres and fauxqs compete for the same cores, and fauxqs does work SQS would do elsewhere. Absolute numbers are this machine's; the minimal ceiling, the replay and the CPU columns say what the engine itself adds.
- Postgres runs with the settings shown above (\`synchronous_commit=on\` means every commit waits for a WAL flush, as on RDS).
`;
  return { summary, document };
}
