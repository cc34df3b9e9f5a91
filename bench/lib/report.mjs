// Turns the measurements into docs/performance.md (and the summary table printed by the run).
// Every number in the document comes from the run that wrote it.
import { fmt, mark, spread, table } from "./stats.mjs";

const TARGETS = {
  ratioAt8: 0.6,
  s3PerTtl: 1,
  devP50: 250,
  importMs: 150,
  zipMB: 1.5,
  rssMB: 128,
};

const SECTION_TITLES = {
  throughput: "§1 State Manager throughput",
  spec: "§2 Spec loading",
  dev: "§3 Dev-mode latency",
  cold: "§4 Cold start",
  memory: "§5 Memory",
};

const ms = (v) => `${fmt(v, v >= 100 ? 0 : 1)} ms`;
const mb = (bytes) => bytes / 1e6;

function topGroups(summary, n = 5) {
  return summary.groups
    .slice(0, n)
    .map((g) => `${g.name} ${fmt(g.pct, 0)} % (${fmt(g.ms, g.ms >= 10 ? 0 : 1)} ms)`)
    .join("; ");
}

function summaryRows(r) {
  const rows = [];
  const t = r.throughput;
  if (t) {
    const at = (n) => t.summary.find((s) => s.n === n);
    for (const s of t.summary) {
      rows.push([
        `State Manager, ${s.n} worker${s.n > 1 ? "s" : ""}: engine / ceiling`,
        `${fmt(s.engine.eventsPerSec, 0)} / ${fmt(s.ceiling.eventsPerSec, 0)} events/s = **${fmt(s.ratio, 2)}**`,
        s.n === 8 ? `≥ ${TARGETS.ratioAt8} at 8 workers` : "",
        s.n === 8 ? mark(at(8).ratio >= TARGETS.ratioAt8) : "",
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
  const c = r.cold;
  if (c) {
    const sm = c["state-manager"];
    rows.push([
      "First event after a cold start, specs on S3 (State Manager zip)",
      `${ms(sm.firstMs)} (then ${ms(sm.secondMs)} for the next)`,
      "",
      "",
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
      rows.push([`${name}: first event after import (median)`, ms(f.firstMs), "", ""]);
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
    rows.push([
      "… the same with node's default heap sizing on this host",
      `${fmt(m.defaults.maxRssMB, 0)} MB`,
      "",
      "",
    ]);
  }
  return rows;
}

function throughputSection(t) {
  const out = [];
  out.push(
    `${t.stacks.toLocaleString("en-US")} stacks, ${t.events.toLocaleString("en-US")} events per run: LAUNCH (first event: creates the stack, dispatches provision-env, sends the task message to the fauxqs task queue), TASK_COMPLETED with the real token read back from the outbox (PROVISION → NEXT → RUN), TOUCH (no-op, metadata merge). Each worker is a worker thread with its own pg connection and SDK clients — one Lambda instance with \`POSTGRES_POOL_MAX=1\` — pulling SQS-shaped batches of 10 records and calling \`createStateManager(…).handler\` (specs from S3 via \`s3MachineSource\`, INFO logs written as in Lambda and dropped). The **ceiling** is that same run's SQL without the engine: every statement the engine sent (text and parameters, BEGIN/COMMIT included, recorded per batch on the connection) is replayed on emptied tables by as many workers, each with its own \`pg\` connection — same statements, same transactions, same batches, no validation, transition, query building, logging or SQS (row ids the database hands back, e.g. claimed outbox rows, are mapped to the replay's own). ${t.reps} repetitions; within each, the engine run and its replay run back to back at each level; the ratio is taken per repetition and its median shown. Every run is checked: all stacks end in RUN, no batch item failures, one task message per stack on the queue.`,
  );
  out.push("");
  out.push(
    table(
      [
        "Workers",
        "Engine events/s (runs)",
        "Ceiling events/s (runs)",
        "Engine / ceiling",
        "Engine batch of 10: p50 / p95",
        "Whole machine CPU busy (engine / ceiling)",
      ],
      t.summary.map((s) => [
        String(s.n),
        `**${fmt(s.engine.eventsPerSec, 0)}** (${spread(s.engine.runs, 0) || "1 run"})`,
        `**${fmt(s.ceiling.eventsPerSec, 0)}** (${spread(s.ceiling.runs, 0) || "1 run"})`,
        `**${fmt(s.ratio, 2)}** (${spread(s.ratios, 2) || "1 run"})`,
        `${ms(s.engine.batchP50)} / ${ms(s.engine.batchP95)}`,
        `${fmt(s.engine.machineBusyPct, 0)} % / ${fmt(s.ceiling.machineBusyPct, 0)} %`,
      ]),
    ),
  );
  out.push("");
  out.push("By event kind (median events/s, engine / ceiling):");
  out.push("");
  const kinds = ["LAUNCH", "TASK_COMPLETED", "TOUCH"];
  out.push(
    table(
      ["Workers", ...kinds],
      t.summary.map((s) => [
        String(s.n),
        ...kinds.map(
          (k) =>
            `${fmt(s.engine.perPhase[k].eventsPerSec, 0)} / ${fmt(s.ceiling.perPhase[k].eventsPerSec, 0)}`,
        ),
      ]),
    ),
  );
  const one = t.summary[0];
  out.push("");
  out.push(
    `Statements per event (BEGIN/COMMIT included, counted on the connection): ${kinds
      .map(
        (k) =>
          `${k} ${fmt(one.engine.perPhase[k].statementsPerEvent, 1)} (ceiling ${fmt(one.ceiling.perPhase[k].statementsPerEvent, 1)})`,
      )
      .join(", ")} — the ceiling replays exactly the engine's statements.`,
  );
  out.push("");
  out.push(
    "CPU per event (median over runs; thread CPU from `process.threadCpuUsage`, Postgres from `/proc`):",
  );
  out.push("");
  out.push(
    table(
      [
        "Workers",
        "Engine threads",
        "Ceiling threads",
        "Postgres (engine run / ceiling run)",
        "Main thread: fauxqs + log drain (engine run)",
        "Log bytes per event",
      ],
      t.summary.map((s) => [
        String(s.n),
        ms(s.engine.workerCpuMsPerEvent),
        ms(s.ceiling.workerCpuMsPerEvent),
        `${ms(s.engine.postgresMsPerEvent)} / ${ms(s.ceiling.postgresMsPerEvent)}`,
        ms(s.engine.mainThreadMsPerEvent),
        fmt(s.engine.logBytesPerEvent, 0),
      ]),
    ),
  );
  if (t.profile) {
    const { engine, ceiling } = t.profile;
    const names = [...new Set([...engine.groups, ...ceiling.groups].map((g) => g.name))];
    const per = (p, name) => p.groups.find((g) => g.name === name)?.msPerEvent ?? 0;
    names.sort((a, b) => per(engine, b) - per(engine, a));
    out.push("");
    out.push(
      `Where one worker's time goes (V8 sampling profiles of separate 1-worker runs, ${engine.events.toLocaleString("en-US")} events each; a sample counts whenever the thread is not idle, so time blocked in a syscall or waiting for a core on a busy machine is included and totals differ from the thread CPU above; time inside Node's built-ins is charged to the package that called them, so socket writes count for pg or the SDK):`,
    );
    out.push("");
    out.push(
      table(
        ["Code", "Engine, sampled ms per event", "Ceiling, sampled ms per event"],
        [
          ...names
            .filter((n) => per(engine, n) >= 0.001 || per(ceiling, n) >= 0.001)
            .map((n) => [n, fmt(per(engine, n), 3), fmt(per(ceiling, n), 3)]),
          ["**Total**", `**${fmt(engine.msPerEvent, 3)}**`, `**${fmt(ceiling.msPerEvent, 3)}**`],
        ],
      ),
    );
    if (engine.builtins.length > 0) {
      out.push("");
      out.push(
        `Engine time in Node with no caller of ours (I/O callbacks, microtask ticks) is mostly in: ${engine.builtins.map((b) => `\`${b.name}\` ${fmt(b.msPerEvent, 3)} ms`).join(", ")} per event.`,
      );
    }
  }
  out.push("");
  const at1 = t.summary.find((s) => s.n === 1);
  const at8 = t.summary.find((s) => s.n === 8);
  const best = [...t.summary].sort((a, b) => b.engine.eventsPerSec - a.engine.eventsPerSec)[0];
  const engineTotal =
    at8.engine.workerCpuMsPerEvent + at8.engine.postgresMsPerEvent + at8.engine.mainThreadMsPerEvent;
  const ceilingTotal =
    at8.ceiling.workerCpuMsPerEvent + at8.ceiling.postgresMsPerEvent + at8.ceiling.mainThreadMsPerEvent;
  out.push(
    `**Reading it.** The engine peaks at ${fmt(best.engine.eventsPerSec, 0)} events/s with ${best.n} worker${best.n > 1 ? "s" : ""}. At 1 worker the engine spends ${ms(at1.engine.workerCpuMsPerEvent)} of its own CPU per event against ${ms(at1.ceiling.workerCpuMsPerEvent)} for the bare driver. This machine has ${"{cores}"} cores shared by the workers, Postgres and fauxqs, so once they are saturated (${fmt(at8.engine.machineBusyPct, 0)} % busy at 8 workers) throughput is set by total CPU per event — ${ms(engineTotal)} for the engine (its threads + Postgres + fauxqs) against ${ms(ceilingTotal)} for the ceiling, which puts the ratio near ${fmt(ceilingTotal / engineTotal, 2)} whenever the machine is saturated. In AWS each Lambda instance has its own CPU and SQS is not on the database host, so there the ratio is governed by per-event latency instead; the 1-worker row is the closest stand-in.`,
  );
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
    `The State Manager zip's \`index.mjs\` in a fresh process, configured as in Lambda (env vars, default pool of 3, specs on fauxqs S3), handling ${m.defaults.events.toLocaleString("en-US")} events in batches of 10 (LAUNCH, TASK_COMPLETED, TOUCH, DESTROY for ${(m.defaults.events / 4).toLocaleString("en-US")} stacks; every stack checked to end in TEARDOWN). Twice: with V8's heap limited as Lambda's Node.js bootstrap does for a 128 MB function (approximated by \`${m.lambda128.flags}\`), and with node's defaults, which size the young generation from this host's ${"{memory}"} GiB of RAM.`,
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

function gaps(r) {
  const out = [];
  const t = r.throughput;
  if (t) {
    const at8 = t.summary.find((s) => s.n === 8);
    if (at8.ratio < TARGETS.ratioAt8) {
      const per = (p, name) => p.groups.find((g) => g.name === name)?.msPerEvent ?? 0;
      const top = t.profile
        ? t.profile.engine.groups
            .slice(0, 4)
            .map(
              (g) =>
                `${g.name} ${fmt(g.msPerEvent, 2)} ms/event (ceiling: ${fmt(per(t.profile.ceiling, g.name), 2)})`,
            )
            .join(", ")
        : "";
      out.push(
        `- **Throughput ratio at 8 workers: ${fmt(at8.ratio, 2)} < ${TARGETS.ratioAt8}.** The engine costs ${ms(at8.engine.workerCpuMsPerEvent)} of JavaScript CPU per event at 8 workers (${ms(t.summary[0].engine.workerCpuMsPerEvent)} at 1) against ${ms(at8.ceiling.workerCpuMsPerEvent)} for the bare driver, on a machine where workers, Postgres and fauxqs share the cores. ${top ? `The largest parts of the engine's sampled time: ${top}.` : ""}`,
      );
    }
  }
  const c = r.cold;
  if (c) {
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
      `- **\`stackseam dev\` could not start its embedded SQS/S3 endpoint:** \`${d.fallback}\` (§3 was measured against an external fauxqs instead).`,
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
  const env = [
    `- **CPU:** ${machine.cpu}, ${machine.cores} cores (${machine.platform})`,
    `- **Memory:** ${machine.memoryGiB} GiB`,
    `- **Node:** ${machine.node}`,
    `- **Postgres:** ${machine.postgres}`,
    "- **SQS / S3:** fauxqs, in-process on 127.0.0.1 (the dev mode's own store for §3)",
    `- **Load average (1 min) just before the run:** ${fmt(machine.loadAtStart, 2)} on ${machine.cores} cores${machine.loadAtStart > machine.cores / 2 ? " — **other work was running on the machine**; it depresses and scatters the absolute figures (ratios, taken side by side, suffer least)" : ""}`,
    `- **Run:** \`${command}\` on ${date}, ${fmt(durationS / 60, 1)} min${quick ? " (**quick smoke run: small samples, not for quoting**)" : ""}`,
  ].join("\n");
  const sections = [];
  if (results.throughput)
    sections.push(
      `## 1. State Manager throughput\n\n${throughputSection(results.throughput).replace("{cores}", String(machine.cores))}`,
    );
  if (results.spec) sections.push(`## 2. Spec loading from S3\n\n${specSection(results.spec)}`);
  if (results.dev) sections.push(`## 3. End-to-end latency in dev mode\n\n${devSection(results.dev)}`);
  if (results.cold) sections.push(`## 4. Cold start\n\n${coldSection(results.cold)}`);
  if (results.memory)
    sections.push(`## 5. Memory\n\n${memorySection(results.memory).replace("{memory}", machine.memoryGiB)}`);
  const document = `# Performance

Generated by \`${command}\`: every figure below was measured by that run on the machine described
here — none is typed by hand, and rerunning the command rewrites this file. Machines are noisy:
figures are medians of several runs (the spread is shown), and ratios compare runs made side by
side. The benchmarks live in \`bench/\`; they are not part of the test suite and assert nothing.

Rerun: \`npm run bench\` (builds the workspace, then \`node bench/run.mjs\`; uses \`DATABASE_URL\`
when set — a server where it may create and drop scratch databases — else an embedded Postgres).
\`npm run bench -- --quick\` is a smoke run that prints the table without writing this file;
\`-- --only cold,memory,spec,dev,throughput\` runs a subset.

## Machine

${env}

## Summary

${summary}

## Gaps

${gaps(results)}

${sections.join("\n\n")}

## Method notes

- Nothing is mocked except the Lambda Invoke API in §4 (a local HTTP stub; there is no local Lambda). Postgres is real (fresh database per section, migrations applied), SQS and S3 are fauxqs over HTTP, the State Manager is the real handler (the built package in §1–§2, the release zip in §4–§5, the dev runtime in §3).
- Everything shares one machine: worker threads, Postgres and fauxqs compete for the same cores, and fauxqs does work SQS would do elsewhere. Absolute numbers are this machine's; the ceiling and the CPU columns say what the engine itself adds.
- Postgres runs with the settings shown above (\`synchronous_commit=on\` means every commit waits for a WAL flush, as on RDS).
`;
  return { summary, document };
}
