#!/usr/bin/env node
// What the Task Satisfier adds to a real Terraform apply: `runTask` on examples/terraform (copy,
// backend detection, init, apply, output -json, clean-up, stray-process sweep) against the same
// `terraform init && terraform apply` run by hand in a fresh copy, both with the same S3 backend on
// a loopback fauxqs. Not a test: it asserts nothing and prints the figures.
//
//   npx tsc -b && node bench/terraform-overhead.mjs [--runs 10]
//
// Each run creates a new stack (a new state key), so both sides always create the resources.
import { execFile } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { Logger } from "@aws-lambda-powertools/logger";
import { S3Client } from "@aws-sdk/client-s3";
import { BACKEND_OVERRIDE_FILE, createTaskSatisfier, localLambdaInvoker } from "@stackseam/task-satisfier";
import { startLoopbackFauxqs } from "../packages/cli/dist/dev/loopback-fauxqs.js";
import { ROOT } from "./lib/infra.mjs";
import { quantile } from "./lib/stats.mjs";

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: "string", default: "10" } } });
const RUNS = Number(values.runs);
const EXAMPLE = join(ROOT, "examples/terraform");
const BUCKET = "bench-terraform-state";
const REGION = "us-east-1";

const server = await startLoopbackFauxqs({ port: 0, logger: false });
server.createBucket(BUCKET);
const endpoint = server.address;
const credentials = { AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench", AWS_REGION: REGION };
const s3 = new S3Client({
  endpoint,
  region: REGION,
  forcePathStyle: true,
  credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
});
const work = await mkdtemp(join(tmpdir(), "stackseam-bench-tf-"));

/** Keeps the satisfier's log records (step durations) instead of printing them. */
const records = [];
class CaptureLogger extends Logger {
  printLog(_level, log) {
    records.push(log.getAttributes());
  }
  createLogger(options) {
    return new CaptureLogger(options);
  }
}

const satisfier = createTaskSatisfier({
  s3,
  invoker: localLambdaInvoker(work),
  workDir: work,
  deadlineMarginMs: 30_000,
  backend: { stateBucket: { bucket: BUCKET, region: REGION }, s3Endpoint: { url: endpoint } },
  terraformEnv: { ...credentials, AWS_ENDPOINT_URL_S3: endpoint },
  pluginCacheDir: null,
  heartbeatIntervalMs: 0,
  logger: new CaptureLogger({ serviceName: "bench", logLevel: "INFO" }),
});

/** The same two commands the satisfier runs, by hand, in a fresh copy of the module. */
async function byHand(i) {
  const dir = await mkdtemp(join(work, "hand-"));
  const started = performance.now();
  await cp(EXAMPLE, dir, { recursive: true });
  await writeFile(join(dir, BACKEND_OVERRIDE_FILE), 'terraform {\n  backend "s3" {}\n}\n');
  const env = {
    ...process.env,
    ...credentials,
    AWS_ENDPOINT_URL_S3: endpoint,
    TF_IN_AUTOMATION: "1",
    TF_DATA_DIR: join(dir, ".tf-data"),
  };
  const backend = [
    `bucket=${BUCKET}`,
    `key=bench/hand-${i}`,
    `region=${REGION}`,
    "use_lockfile=true",
    `endpoints={s3="${endpoint}"}`,
    "use_path_style=true",
    "skip_credentials_validation=true",
    "skip_requesting_account_id=true",
    "skip_metadata_api_check=true",
    "skip_region_validation=true",
  ].map((c) => `-backend-config=${c}`);
  const initStart = performance.now();
  await run("terraform", ["init", "-input=false", "-no-color", ...backend], { cwd: dir, env });
  const initDone = performance.now();
  await run(
    "terraform",
    [
      "apply",
      "-auto-approve",
      "-input=false",
      "-no-color",
      "-var",
      `stack_id=hand-${i}`,
      "-var",
      "image_tag=bench",
    ],
    { cwd: dir, env },
  );
  const applyDone = performance.now();
  await run("terraform", ["output", "-json", "-no-color"], { cwd: dir, env });
  const outputDone = performance.now();
  await rm(dir, { recursive: true, force: true });
  return {
    initApply: applyDone - started,
    withOutput: outputDone - started,
    steps: { init: initDone - initStart, apply: applyDone - initDone, output: outputDone - applyDone },
  };
}

const satSteps = { init: [], apply: [], output: [] };
const handSteps = { init: [], apply: [], output: [] };

async function throughSatisfier(i) {
  records.length = 0;
  const started = performance.now();
  const report = await satisfier.runTask(
    {
      stackId: `sat-${i}`,
      machine: "bench",
      state: "PROVISION",
      task: "apply-infra",
      executor: "terraform",
      config: {
        action: "apply",
        source: { type: "local", location: EXAMPLE },
        metadataVariables: ["image_tag"],
      },
      metadata: { image_tag: "bench" },
      token: `bench-${i}`,
      attempt: 1,
    },
    { remainingMs: () => 900_000 },
  );
  if (report.event !== "TASK_COMPLETED") throw new Error(`the apply failed: ${report.description}`);
  const took = performance.now() - started;
  for (const step of ["init", "apply", "output"]) {
    const exited = records.find((r) => r.message === `terraform ${step} exited`);
    if (typeof i === "number" && exited) satSteps[step].push(exited.durationMs);
  }
  return took;
}

const hand = [];
const handWithOutput = [];
const sat = [];
// A warm-up of each (page cache, Terraform's first start), not counted.
await byHand("warm");
await throughSatisfier("warm");
for (let i = 0; i < RUNS; i++) {
  // Alternate which goes first, so a drift in machine load hits both alike.
  if (i % 2 === 0) {
    const h = await byHand(i);
    sat.push(await throughSatisfier(i));
    hand.push(h.initApply);
    handWithOutput.push(h.withOutput);
    for (const step of ["init", "apply", "output"]) handSteps[step].push(h.steps[step]);
  } else {
    sat.push(await throughSatisfier(i));
    const h = await byHand(i);
    hand.push(h.initApply);
    handWithOutput.push(h.withOutput);
    for (const step of ["init", "apply", "output"]) handSteps[step].push(h.steps[step]);
  }
}
s3.destroy();
await server.stop();
await rm(work, { recursive: true, force: true });

const ms = (v) => `${Math.round(v)} ms`;
const row = (name, xs) =>
  `| ${name} | ${ms(quantile(xs, 0.5))} | ${ms(Math.min(...xs))} | ${ms(Math.max(...xs))} |`;
const { stdout: tfVersion } = await run("terraform", ["version"], {
  env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null" },
});
console.log(
  `Terraform apply overhead, ${RUNS} runs each, examples/terraform (terraform_data), S3 backend on loopback fauxqs`,
);
console.log(
  `${tfVersion.split("\n")[0]}; node ${process.version}; ${cpus().length} CPUs; load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
console.log("");
console.log("| what | p50 | min | max |");
console.log("| --- | --- | --- | --- |");
console.log(row("by hand: terraform init && terraform apply", hand));
console.log(row("by hand: init && apply && output -json", handWithOutput));
console.log(row("Task Satisfier runTask (copy, backend, init, apply, output -json, clean-up)", sat));
const p50 = (xs) => quantile(xs, 0.5);
console.log("");
console.log("| step (p50) | by hand | in runTask |");
console.log("| --- | --- | --- |");
for (const step of ["init", "apply", "output"])
  console.log(`| terraform ${step} | ${ms(p50(handSteps[step]))} | ${ms(p50(satSteps[step]))} |`);
console.log("");
console.log(
  `overhead (p50): ${ms(p50(sat) - p50(hand))} over init && apply (×${(p50(sat) / p50(hand)).toFixed(2)}), ${ms(p50(sat) - p50(handWithOutput))} over init && apply && output`,
);
