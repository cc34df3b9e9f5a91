#!/usr/bin/env node
// A before/after of the State Manager: this tree's engine (B) against another commit's (A), side by
// side on §1's workload (bench/throughput.mjs), runs alternated and the order rotated, with the
// minimal-SQL ceiling as a third column. A change worth a few per cent is lost in the spread of two
// separate `npm run bench` runs; alternating the two builds in one process is what shows it.
//
//   node bench/ab.mjs --rev <commit> [--workers 1,8] [--reps 6] [--stacks 1000]
//
// <commit> is checked out into a temporary git worktree, given this tree's node_modules (its own
// packages linked as @stackseam/*) and built with tsc; both trees must be built (`tsc -b`). Prints
// medians of per-repetition ratios. Not a test: nothing is asserted.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, startAws, startPostgres } from "./lib/infra.mjs";
import { median, spread } from "./lib/stats.mjs";
import { benchDatabase, pair, startWorkers, stopWorkers } from "./throughput.mjs";

const { values } = parseArgs({
  options: {
    rev: { type: "string" },
    workers: { type: "string", default: "1,8" },
    reps: { type: "string", default: "6" },
    stacks: { type: "string", default: "1000" },
  },
});
if (!values.rev) throw new Error("--rev <commit>: the build to compare this tree with");
const levels = values.workers.split(",").map(Number);
const reps = Number(values.reps);
const stacks = Number(values.stacks);
const log = (line) => process.stderr.write(`${line}\n`);

/** The commit's tree, outside this one (so no tool of this tree sees it), built against our node_modules. */
function checkout(rev) {
  const tree = join(mkdtempSync(join(tmpdir(), "stackseam-ab-")), "tree");
  execFileSync("git", ["worktree", "add", "--detach", "--quiet", tree, rev], { cwd: ROOT });
  const modules = join(tree, "node_modules");
  mkdirSync(join(modules, "@stackseam"), { recursive: true });
  for (const entry of readdirSync(join(ROOT, "node_modules"))) {
    if (entry !== "@stackseam") symlinkSync(join(ROOT, "node_modules", entry), join(modules, entry));
  }
  for (const pkg of readdirSync(join(tree, "packages")))
    symlinkSync(join(tree, "packages", pkg), join(modules, "@stackseam", pkg));
  log(`A: ${rev} in ${tree}; building`);
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-b"], {
    cwd: tree,
    stdio: "inherit",
  });
  return {
    engine: join(tree, "packages/state-manager/dist/index.js"),
    remove() {
      execFileSync("git", ["worktree", "remove", "--force", tree], { cwd: ROOT });
      rmSync(join(tree, ".."), { recursive: true, force: true });
    },
  };
}

const a = checkout(values.rev);
const postgres = await startPostgres(log);
const aws = await startAws();
const db = await benchDatabase(postgres.adminUrl);
const common = { dbUrl: db.url, endpoint: aws.endpoint, bucket: aws.bucket, prefix: aws.prefix };
const max = Math.max(...levels);
const pools = {
  A: await startWorkers("engine", max, { ...common, enginePath: a.engine }),
  B: await startWorkers("engine", max, common),
  minimal: await startWorkers("minimal", max, common),
};
const ORDERS = [
  ["A", "B", "minimal"],
  ["B", "A", "minimal"],
  ["minimal", "A", "B"],
  ["minimal", "B", "A"],
];
const fmt = (xs, d = 3) => `${median(xs).toFixed(d)} (${spread(xs, d)})`;
try {
  // Every column's workers keep their pools open from run to run (opened on first use), plus ours;
  // inside the try, so that a refusal still stops the workers and removes the worktree.
  const needed = Object.values(pools).reduce((sum, ws) => sum + ws.length * ws[0].pool, 1);
  const limit = Number((await db.client.query("SHOW max_connections")).rows[0].max_connections);
  if (needed > limit - 3)
    throw new Error(`--workers ${max} needs ${needed} connections; the server allows ${limit} (3 reserved)`);
  await pair(pools, db, aws, max, "warm", 200, { modes: ["A", "B", "minimal"] });
  for (const n of levels) {
    const runs = [];
    for (let rep = 0; rep < reps; rep++) {
      const order = ORDERS[rep % ORDERS.length];
      const res = await pair(pools, db, aws, n, `ab${n}r${rep}`, stacks, { modes: order });
      runs.push(res);
      log(
        `${n} worker(s), rep ${rep + 1}/${reps}: ${order.map((k) => `${k} ${res[k].eventsPerSec.toFixed(0)}`).join(", ")} events/s`,
      );
    }
    // Per event of a run: events/s as it is, CPU divided by the run's events.
    const per = (x, f) => (f === "eventsPerSec" ? x.eventsPerSec : x[f] / x.events);
    const ratios = (top, bottom, f) => runs.map((r) => per(r[top], f) / per(r[bottom], f));
    console.log(`\n${n} worker(s), ${reps} repetitions of ${stacks * 3} events (median, spread):`);
    console.log(`  B / A events/s        ${fmt(ratios("B", "A", "eventsPerSec"))}`);
    console.log(`  B / A thread CPU      ${fmt(ratios("B", "A", "workerCpuMs"))}`);
    console.log(`  B / A Postgres CPU    ${fmt(ratios("B", "A", "postgresMs"))}`);
    console.log(`  A / minimal events/s  ${fmt(ratios("A", "minimal", "eventsPerSec"))}`);
    console.log(`  B / minimal events/s  ${fmt(ratios("B", "minimal", "eventsPerSec"))}`);
    for (const k of ["A", "B", "minimal"]) {
      const m = (f) => median(runs.map((r) => per(r[k], f)));
      console.log(
        `  ${k.padEnd(8)} ${m("eventsPerSec").toFixed(0)} events/s, thread ${m("workerCpuMs").toFixed(3)} ms, Postgres ${m("postgresMs").toFixed(3)} ms per event`,
      );
    }
  }
} finally {
  for (const workers of Object.values(pools)) await stopWorkers(workers);
  await db.close();
  await aws.stop();
  await postgres.stop?.();
  a.remove();
}
