#!/usr/bin/env node
// Stackseam benchmarks: `npm run bench` (full, writes docs/performance.md) or
// `npm run bench -- --quick` (smoke run, prints only). Not tests: nothing here asserts a time.
//
//   node bench/run.mjs [--quick] [--only cold,memory,spec,dev,throughput,notify,pool,scale] [--write | --no-write] [--out FILE]
//   node bench/run.mjs --render FILE   # re-render the report from a run's saved measurements
//   node bench/run.mjs --engine DIR/packages/state-manager/dist/index.js   # another tree's engine (§1–§3, §9)
//
// Needs the workspace built (`tsc -b`, which `npm run bench` does first). Postgres: DATABASE_URL
// (a server where fresh databases can be created), else an embedded one.
import { readFile, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildRelease, runColdStart } from "./cold-start.mjs";
import { runDevLatency } from "./dev-latency.mjs";
import { machineDescription, postgresDescription, ROOT, startAws, startPostgres } from "./lib/infra.mjs";
import { otherWorkMeter } from "./lib/other-work.mjs";
import { renderReport } from "./lib/report.mjs";
import { runMemory } from "./memory.mjs";
import { runScale } from "./scale.mjs";
import { runSpecLoading } from "./spec-loading.mjs";
import { runThroughput } from "./throughput.mjs";
import { runNotify, runPool } from "./throughput-options.mjs";

const SECTIONS = ["cold", "memory", "spec", "dev", "throughput", "notify", "pool", "scale"];
/** Where each run leaves its raw measurements, for `--render`. */
const LAST_RUN = join(tmpdir(), "stackseam-bench-last-run.json");

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
    out: { type: "string", default: join(ROOT, "docs/performance.md") },
    // Re-renders the report from a run's saved measurements (see LAST_RUN) without measuring again.
    render: { type: "string" },
    // The State Manager package to measure in §1–§3 and §9 (default: this tree's build).
    engine: { type: "string" },
  },
});
const only = values.only ? values.only.split(",").map((s) => s.trim()) : SECTIONS;
for (const s of only)
  if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s} (${SECTIONS.join(", ")})`);
// A smoke run or a partial one must not replace the published figures unless asked to.
const fullRun = !values.quick && only.length === SECTIONS.length;

const began = performance.now();
const log = (line) =>
  process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

/** Runs the selected sections; a section that fails is recorded as failed and the others still run. */
async function measure() {
  const machine = await machineDescription();
  machine.loadAtStart = loadavg()[0];
  // The load during the run, not only before it: other work on a shared machine comes and goes.
  machine.loadSamples = [];
  // The load average counts the bench's own workers; what other processes used says whether the
  // machine was shared.
  machine.otherCoresSamples = [];
  const otherWork = await otherWorkMeter();
  const sampler = setInterval(async () => {
    machine.loadSamples.push(loadavg()[0]);
    const cores = await otherWork.sample();
    if (cores !== null) machine.otherCoresSamples.push(cores);
  }, 10_000);
  const postgres = await startPostgres(log);
  const aws = await startAws();
  const results = {};
  const failed = {};
  let release = null;
  try {
    machine.postgres = `${await postgresDescription(postgres.adminUrl)}, ${postgres.kind === "embedded" ? "embedded" : "from DATABASE_URL"}`;
    log(
      `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}; ${machine.postgres}`,
    );
    const ctx = { adminUrl: postgres.adminUrl, aws, quick: values.quick, log, enginePath: values.engine };
    // A section that fails is reported as failed; the others still run.
    const attempt = async (name, fn) => {
      if (!only.includes(name)) return;
      try {
        results[name] = await fn();
      } catch (err) {
        log(`${name}: FAILED: ${err?.stack ?? err}`);
        failed[name] = String(err?.message ?? err).split("\n")[0];
      }
    };
    if (only.includes("cold") || only.includes("memory")) release = await buildRelease(log);
    await attempt("cold", () => runColdStart({ ...ctx, release }));
    await attempt("memory", () => runMemory({ ...ctx, release }));
    await attempt("spec", () => runSpecLoading(ctx));
    await attempt("dev", () => runDevLatency(ctx));
    await attempt("throughput", () => runThroughput(ctx));
    await attempt("notify", () => runNotify(ctx));
    await attempt("pool", () => runPool(ctx));
    await attempt("scale", () => runScale(ctx));
  } finally {
    clearInterval(sampler);
    await release?.cleanup();
    await aws.stop();
    await postgres.stop();
  }
  const flags = [
    ...(values.quick ? ["--quick"] : []),
    ...(values.only ? ["--only", values.only] : []),
    ...(values.engine ? ["--engine", values.engine] : []),
  ];
  const command = `npm run bench${flags.length > 0 ? ` -- ${flags.join(" ")}` : ""}`;
  return {
    machine,
    results,
    failed,
    command,
    quick: values.quick,
    fullRun,
    durationS: (performance.now() - began) / 1000,
    date: new Date().toISOString().slice(0, 10),
  };
}

const run = values.render ? JSON.parse(await readFile(values.render, "utf8")) : await measure();
if (!values.render) {
  await writeFile(LAST_RUN, JSON.stringify(run));
  log(`raw measurements in ${LAST_RUN} (re-render with --render ${LAST_RUN})`);
}
const report = renderReport(run);
process.stdout.write(`${report.summary}\n`);
const failures = Object.keys(run.failed).length;
const write = values["no-write"] ? false : (values.write ?? (run.fullRun && failures === 0));
if (write) {
  await writeFile(values.out, report.document);
  log(`wrote ${values.out}`);
} else {
  log(`${values.out} not written (quick, partial or failed run; --write forces it)`);
}
log(`done in ${((performance.now() - began) / 1000).toFixed(0)} s`);
// Pollers, pools and sockets are closed above; anything left (a keep-alive agent) must not hold the run.
process.exit(failures > 0 ? 1 : 0);
