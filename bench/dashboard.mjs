#!/usr/bin/env node
// Dashboard benchmark: server time of its pages at 100,000 stacks and 2,000,000 history rows, page
// weight on first load in Chromium, and live updates by server-sent events vs polling.
//
//   node bench/dashboard.mjs [--stacks N] [--history-per-stack N] [--runs N] [--no-write]
//
// Needs `tsc -b` (npm run bench builds first), Chromium at /usr/bin/chromium, and a Postgres where
// it may create a scratch database: DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres.
// A full run rewrites the figures section of docs/dashboard.md; nothing here asserts a time.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { chromium } from "playwright-core";
import { createDatabase, machineDescription, postgresDescription, ROOT } from "./lib/infra.mjs";
import { otherWorkMeter, otherWorkSummary } from "./lib/other-work.mjs";
import { seedDashboard } from "./lib/seed-dashboard.mjs";
import { fmt, quantile, table } from "./lib/stats.mjs";

const { values } = parseArgs({
  options: {
    stacks: { type: "string", default: "100000" },
    "history-per-stack": { type: "string", default: "20" },
    runs: { type: "string", default: "200" },
    "no-write": { type: "boolean", default: false },
  },
});
const STACKS = Number(values.stacks);
const PER_STACK = Number(values["history-per-stack"]);
const RUNS = Number(values.runs);
const FULL = STACKS === 100_000 && PER_STACK === 20 && RUNS >= 200;
const ADMIN = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const DOC = join(ROOT, "docs/dashboard.md");
const START = "<!-- bench:dashboard:start -->";
const END = "<!-- bench:dashboard:end -->";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

const began = performance.now();
const log = (line) =>
  process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

const { parseSpec } = await import("@stackseam/core");
const { startDashboard } = await import("@stackseam/ui");

/** The cursor the stacks page would hand out for a page sorted by id ending at `id`. */
const idCursor = (id) => Buffer.from(JSON.stringify([id, id])).toString("base64url");
const stackId = (i) => `seed-${String(i).padStart(6, "0")}`;

async function seed(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const versions = {};
    for (const name of ["qa-env", "qa-env-terraform"]) {
      const file = join(ROOT, "examples/specs", `${name}.yml`);
      const source = await readFile(file, "utf8");
      const machine = parseSpec(source, { name }).machine;
      versions[name] = machine.version;
      await client.query(
        "INSERT INTO machine_versions (machine, version, source, origin) VALUES ($1, $2, $3, $4)",
        [name, machine.version, source, file],
      );
    }
    await seedDashboard(client, {
      stacks: STACKS,
      historyPerStack: PER_STACK,
      base: new Date(),
      versions,
      spread: true,
    });
    const counts = await client.query(
      "SELECT (SELECT count(*) FROM stacks) AS stacks, (SELECT count(*) FROM history) AS history, pg_size_pretty(pg_database_size(current_database())) AS size",
    );
    return counts.rows[0];
  } finally {
    await client.end();
  }
}

/** p50/p95 of the server's own time (Server-Timing) and of the round trip, over RUNS requests. */
async function timePage(base, path, before) {
  const server = [];
  const total = [];
  let bytes = 0;
  for (let n = 0; n < RUNS + 20; n++) {
    if (before) await before(n);
    const t0 = performance.now();
    const res = await fetch(`${base}${path}`);
    const body = await res.arrayBuffer();
    const t1 = performance.now();
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    const dur = Number(/dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")?.[1]);
    if (n >= 20) {
      server.push(dur);
      total.push(t1 - t0);
      bytes = body.byteLength;
    }
  }
  return {
    path,
    p50: quantile(server, 0.5),
    p95: quantile(server, 0.95),
    rtP50: quantile(total, 0.5),
    rtP95: quantile(total, 0.95),
    kb: bytes / 1024,
  };
}

async function newBrowser() {
  const profile = await mkdtemp(join(tmpdir(), "stackseam-bench-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** KB transferred (headers + encoded bodies) by the requests of one navigation with a cold cache. */
async function pageWeight(base, path) {
  const browser = await newBrowser();
  try {
    const page = await browser.context.newPage();
    const finished = [];
    page.on("requestfinished", (req) => finished.push(req));
    await page.goto(`${base}${path}`, { waitUntil: "load" });
    let total = 0;
    for (const req of finished) {
      const s = await req.sizes();
      total += s.responseHeadersSize + s.responseBodySize;
    }
    return { path, requests: finished.length, kb: total / 1024 };
  } finally {
    await browser.close();
  }
}

/** Change → visible on an open stack page, and what an idle open page costs, for one live mode. */
async function liveMode(url, mode) {
  const dashboard = await startDashboard({ databaseUrl: url, port: 0, live: mode, source: "bench" });
  const base = dashboard.url.replace(/\/$/, "");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const browser = await newBrowser();
  try {
    const id = stackId(1);
    const page = await browser.context.newPage();
    await page.goto(`${base}/stacks/${id}`);
    if (mode === "sse") await page.waitForSelector('#live-state[data-state="live"]');
    await page.waitForTimeout(1500);
    const latencies = [];
    for (let n = 0; n < 10; n++) {
      const state = n % 2 === 0 ? "FROZEN" : "RUN";
      const t0 = performance.now();
      await client.query("BEGIN");
      await client.query("UPDATE stacks SET state = $2, updated_at = now() WHERE id = $1", [id, state]);
      await client.query(
        "INSERT INTO history (stack_id, machine, event, event_key, outcome, from_state, to_state, path) VALUES ($1, 'qa-env', 'BENCH', $2, 'applied', 'RUN', $3, ARRAY[$3])",
        [id, `bench-live-${mode}-${n}-${Date.now()}`, state],
      );
      await client.query("COMMIT");
      await page.waitForFunction((s) => document.querySelector(".current-state")?.textContent === s, state, {
        polling: "raf",
        timeout: 10_000,
      });
      latencies.push(performance.now() - t0);
      await page.waitForTimeout(300);
    }
    // An idle page for 10 s: requests and bytes it causes, and the database round trips.
    const before = dashboard.feedPolls();
    let requests = 0;
    let bytes = 0;
    const onFinished = async (req) => {
      requests++;
      const s = await req.sizes();
      bytes += s.responseHeadersSize + s.responseBodySize;
    };
    page.on("requestfinished", onFinished);
    await page.waitForTimeout(10_000);
    page.off("requestfinished", onFinished);
    const feedQueries = dashboard.feedPolls() - before;
    return {
      mode,
      p50: quantile(latencies, 0.5),
      max: Math.max(...latencies),
      requestsPerMin: requests * 6,
      kbPerMin: (bytes * 6) / 1024,
      feedQueriesPerMin: feedQueries * 6,
    };
  } finally {
    await browser.close();
    await client.end();
    await dashboard.close();
  }
}

async function main() {
  const machine = await machineDescription();
  machine.load = loadavg()[0].toFixed(1);
  log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load ${machine.load}`);
  // Whether other work shared the machine: the load average would count this bench's own
  // Chromium and Postgres (and decays slowly after an earlier run).
  const otherWork = await otherWorkMeter();
  machine.otherCores = [];
  const sampler = setInterval(async () => {
    const cores = await otherWork.sample();
    if (cores !== null) machine.otherCores.push(cores);
  }, 10_000);
  sampler.unref();
  const db = await createDatabase(ADMIN);
  const postgres = await postgresDescription(db.url);
  try {
    log(
      `seeding ${STACKS.toLocaleString("en")} stacks and ${(STACKS * PER_STACK).toLocaleString("en")} history rows…`,
    );
    const seeded = await seed(db.url);
    log(`seeded: ${seeded.stacks} stacks, ${seeded.history} history rows, database ${seeded.size}`);

    const dashboard = await startDashboard({ databaseUrl: db.url, port: 0, live: "off", source: "bench" });
    const base = dashboard.url.replace(/\/$/, "");
    const mid = stackId(Math.floor(STACKS / 2));
    const pages = [
      ["stacks page (first page, counts, total)", "/stacks"],
      ["stacks page, a page deep in the keyset", `/stacks?after=${idCursor(mid)}`],
      ["stacks page, most recently active first", "/stacks?sort=-active"],
      ["stacks page, machine + state + failed task", "/stacks?machine=qa-env&state=PROVISION&failed=1"],
      ["stacks page, text search in metadata values", "/stacks?q=team-7"],
      ["stacks page, idle longer than 2 d", "/stacks?idle=2d"],
      [`stack page (${PER_STACK} history rows, diagram)`, `/stacks/${mid}`],
      ["machines page", "/machines"],
    ];
    const timings = [];
    let weights = [];
    // A change (one history row, as every change to a stack writes) before each request: nothing
    // cached by the history cursor can be reused.
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    const change = (n) =>
      writer.query(
        "INSERT INTO history (stack_id, machine, event, event_key, outcome, reason) VALUES ($1, 'qa-env', 'THAW', $2, 'refused', 'bench')",
        [stackId(1 + ((n * 7919) % STACKS)), `bench-busy-${n}-${Date.now()}`],
      );
    pages.splice(1, 0, ["stacks page, a change before every request", "/stacks", change]);
    try {
      for (const [label, path, before] of pages) {
        const t = await timePage(base, path, before);
        timings.push({ label, ...t });
        log(
          `${label}: p50 ${fmt(t.p50)} ms, p95 ${fmt(t.p95)} ms (round trip p50 ${fmt(t.rtP50)} ms), ${fmt(t.kb)} KB`,
        );
      }
      log("page weight in Chromium…");
      weights = [
        { label: "stacks page", ...(await pageWeight(base, "/stacks")) },
        { label: "stack page", ...(await pageWeight(base, `/stacks/${mid}`)) },
        { label: "machines page", ...(await pageWeight(base, "/machines")) },
      ];
      for (const w of weights) log(`${w.label}: ${w.requests} requests, ${fmt(w.kb)} KB`);
    } finally {
      await writer.end();
      await dashboard.close();
    }
    log("live updates: SSE vs polling…");
    const live = [];
    for (const mode of ["sse", "poll"]) {
      const r = await liveMode(db.url, mode);
      live.push(r);
      log(
        `${mode}: change visible p50 ${fmt(r.p50, 0)} ms, max ${fmt(r.max, 0)} ms; idle page ${fmt(r.requestsPerMin, 0)} requests/min, ${fmt(r.kbPerMin)} KB/min, change-feed queries ${fmt(r.feedQueriesPerMin, 0)}/min`,
      );
    }
    clearInterval(sampler);
    const report = render({ machine, postgres, seeded, timings, weights, live });
    process.stdout.write(`${report}\n`);
    if (FULL && !values["no-write"]) {
      const doc = await readFile(DOC, "utf8");
      const a = doc.indexOf(START);
      const b = doc.indexOf(END);
      if (a < 0 || b < a) throw new Error(`${DOC} has no ${START} … ${END} section`);
      await writeFile(DOC, `${doc.slice(0, a + START.length)}\n${report}\n${doc.slice(b)}`);
      log(`wrote the figures into ${DOC}`);
    }
  } finally {
    clearInterval(sampler);
    await db.drop();
  }
}

/** What the report says of the machine's other work, from the /proc samples. */
function sharing(machine) {
  const other = otherWorkSummary(machine.otherCores);
  if (!other) return `load average ${machine.load} at the start`;
  return `processes other than the bench, its Chromium and Postgres used ${fmt(other.median, 2)} cores (median; at most ${fmt(other.max, 2)}), read from /proc every 10 s${other.shared ? " — **the machine was shared: figures are upper bounds**" : ""}`;
}

function render({ machine, postgres, seeded, timings, weights, live }) {
  const date = new Date().toISOString().slice(0, 10);
  return [
    `Measured by \`node bench/dashboard.mjs\` on ${date}: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${postgres}; ${sharing(machine)}.`,
    `Database: ${Number(seeded.stacks).toLocaleString("en")} stacks, ${Number(seeded.history).toLocaleString("en")} history rows (${seeded.size}).`,
    "",
    `**Server time** (the dashboard's own \`Server-Timing\`, request in to response written; ${RUNS} sequential requests after 20 warm-ups):`,
    "",
    table(
      ["page", "p50 ms", "p95 ms", "round trip p50 ms", "HTML KB (uncompressed)"],
      timings.map((t) => [
        `${t.label} \`${t.path.length > 60 ? `${t.path.slice(0, 57)}…` : t.path}\``,
        fmt(t.p50),
        fmt(t.p95),
        fmt(t.rtP50),
        fmt(t.kb),
      ]),
    ),
    "",
    "**Page weight**, first load with an empty cache in Chromium (headers + bodies as transferred, gzip):",
    "",
    table(
      ["page", "requests", "KB transferred"],
      weights.map((w) => [w.label, String(w.requests), fmt(w.kb)]),
    ),
    "",
    "**Live updates** on an open stack page: a change committed to the database until the page shows it (10 changes), and what an idle open page costs:",
    "",
    table(
      [
        "mode",
        "change visible p50 ms",
        "max ms",
        "requests/min per idle page",
        "KB/min per idle page",
        "change-feed queries/min (shared by all pages)",
      ],
      live.map((r) => [
        r.mode === "sse" ? "server-sent events (feed polled every 250 ms)" : "page polling every 1 s",
        fmt(r.p50, 0),
        fmt(r.max, 0),
        fmt(r.requestsPerMin, 0),
        fmt(r.kbPerMin),
        r.mode === "sse" ? fmt(r.feedQueriesPerMin, 0) : "–",
      ]),
    ),
  ].join("\n");
}

await main();
