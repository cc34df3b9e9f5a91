// LAUNCH → outputs readable, in dev, with real Terraform: what a CI job sees when it starts a
// preview environment on examples/terraform (qa-env-terraform, terraform_data, state in dev's S3)
// and then reads its URL. Everything goes through the `stackseam` binary as a person runs it:
// `dev` in its own process, `send … --wait`, then `stacks outputs <id> url`.
//
//   npx tsc -b && node bench/dev-terraform.mjs [--runs 10]
//
// Uses DATABASE_URL (a server where it may create and drop a scratch database) when set, else the
// embedded Postgres dev starts itself. Prints p50/p95; asserts nothing.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createDatabase, ROOT } from "./lib/infra.mjs";
import { median, quantile } from "./lib/stats.mjs";

const { values } = parseArgs({ options: { runs: { type: "string", default: "10" } } });
const RUNS = Number(values.runs);
const BIN = join(ROOT, "packages/cli/bin/stackseam.mjs");

/** A terminal's environment: the CLI finds dev through its data dir, not a database URL. */
function cliEnv(dataDir) {
  const env = { ...process.env, STACKSEAM_DATA_DIR: dataDir, NO_COLOR: "1" };
  delete env.DATABASE_URL;
  return env;
}

/** Runs the CLI to completion against the dev in `dataDir`. */
function cli(dataDir, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: cliEnv(dataDir),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const db = process.env.DATABASE_URL ? await createDatabase(process.env.DATABASE_URL) : null;
const dataDir = await mkdtemp(join(tmpdir(), "stackseam-bench-devtf-"));
const env = { ...process.env, STACKSEAM_DATA_DIR: dataDir, STACKSEAM_DEV_SCHEDULES: "off", NO_COLOR: "1" };
if (db) env.DATABASE_URL = db.url;
else delete env.DATABASE_URL;
const dev = spawn(process.execPath, [BIN, "dev", "--port", "0"], { cwd: ROOT, env, stdio: "pipe" });
let devLog = "";
dev.stdout.on("data", (d) => {
  devLog += d;
});
dev.stderr.on("data", (d) => {
  devLog += d;
});

try {
  const up = performance.now();
  for (;;) {
    if ((await cli(dataDir, ["stacks", "list"])).code === 0) break;
    if (dev.exitCode !== null) throw new Error(`dev exited:\n${devLog}`);
    if (performance.now() - up > 120_000) throw new Error(`dev not up after 120 s:\n${devLog}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const rows = [];
  // One warm-up: Terraform's first init in a fresh data dir fills the provider cache.
  for (let i = 0; i <= RUNS; i++) {
    const id = `tf-bench-${i}`;
    const t0 = performance.now();
    const sent = await cli(dataDir, [
      "send",
      id,
      "LAUNCH",
      "--machine",
      "qa-env-terraform",
      "--meta",
      "image_tag=e724e90",
      "--wait",
    ]);
    const t1 = performance.now();
    if (sent.code !== 0) throw new Error(`send --wait exited ${sent.code}: ${sent.stderr}${sent.stdout}`);
    const out = await cli(dataDir, ["stacks", "outputs", id, "url"]);
    const t2 = performance.now();
    if (out.code !== 0 || !out.stdout.trim()) throw new Error(`stacks outputs: ${out.stderr}`);
    if (i > 0) rows.push({ total: t2 - t0, wait: t1 - t0, outputs: t2 - t1 });
    const gone = await cli(dataDir, ["send", id, "DESTROY", "--wait", "--state", "removed"]);
    if (gone.code !== 0) throw new Error(`DESTROY --wait exited ${gone.code}: ${gone.stderr}`);
  }
  const stat = (k) => {
    const xs = rows.map((r) => r[k]);
    return `p50 ${median(xs).toFixed(0)} ms, p95 ${quantile(xs, 0.95).toFixed(0)} ms`;
  };
  const [load] = (await import("node:os")).loadavg();
  console.log(`LAUNCH → outputs readable in dev, real Terraform (qa-env-terraform), ${RUNS} stacks`);
  console.log(`  send LAUNCH --wait (stack in RUN):  ${stat("wait")}`);
  console.log(`  stacks outputs <id> url:           ${stat("outputs")}`);
  console.log(`  LAUNCH → URL printed:              ${stat("total")}`);
  console.log(
    `  load average (1 min) at the end: ${load.toFixed(2)} on ${(await import("node:os")).cpus().length} cores`,
  );
} finally {
  dev.kill("SIGINT");
  await new Promise((r) => dev.once("close", r));
  await rm(dataDir, { recursive: true, force: true });
  await db?.drop();
}
