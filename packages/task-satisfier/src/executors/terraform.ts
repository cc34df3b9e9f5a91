import { access, constants, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { S3Client } from "@aws-sdk/client-s3";
import type { TaskMessage } from "@stackseam/core";
import type { TerraformConfig } from "../config-types.js";
import type { Executor, ExecutorContext, ExecutorPlan, ExecutorResult } from "../executor.js";
import { OutputTail } from "../output-tail.js";
import { runProcess } from "../process-runner.js";
import { parseTerraformConfig } from "../task-config.js";
import { terraformArgs } from "../terraform-command.js";
import { fetchScripts } from "../terraform-source.js";

export const DEFAULT_TERRAFORM_BIN = "terraform";
/** Time kept back before the Lambda deadline to stop Terraform, clean up and send the report. */
export const DEFAULT_DEADLINE_MARGIN_MS = 30_000;
/** How much of the output an error description carries. */
export const OUTPUT_TAIL_BYTES = 4096;
// Below this there is no point starting Terraform at all.
const MIN_RUN_MS = 1_000;

export interface TerraformExecutorOptions {
  s3: S3Client;
  bin?: string;
  /** Parent of the per-run temp dirs (default: the OS temp dir, /tmp in Lambda). */
  workDir?: string;
  deadlineMarginMs?: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function writable(dir: string | undefined): Promise<boolean> {
  if (!dir) return false;
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The child's environment: the function's own (credentials for the backend and providers) plus
 * automation settings, a per-run TF_DATA_DIR, and a writable HOME when the current one is not
 * (Lambda's file system is read-only outside /tmp).
 */
async function childEnv(root: string): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    TF_DATA_DIR: join(root, "tf-data"),
  };
  if (!(await writable(process.env.HOME))) {
    env.HOME = join(root, "home");
    await mkdir(env.HOME, { recursive: true });
  }
  return env;
}

function describeSource(config: TerraformConfig): string {
  return config.source.type === "s3"
    ? `s3://${config.source.bucket}/${config.source.key}`
    : `local:${config.source.location}`;
}

/** Runs `terraform init` then `apply`/`destroy` in a fresh temp dir, per the established command contract. */
export function terraformExecutor(opts: TerraformExecutorOptions): Executor {
  const bin = opts.bin ?? DEFAULT_TERRAFORM_BIN;
  const margin = opts.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  // SIGTERM lets Terraform release its state lock; SIGKILL follows within part of the margin.
  const killGraceMs = Math.max(100, Math.min(10_000, Math.floor(margin / 3)));

  function plan(task: TaskMessage): ExecutorPlan {
    const parsed = parseTerraformConfig(task.config);
    if (!parsed.ok) return { ok: false, description: parsed.reason };
    const args = terraformArgs(task, parsed.config);
    return {
      ok: true,
      plan: {
        executor: "terraform",
        source: describeSource(parsed.config),
        workingDirectory: "<fresh temp dir>/src (scripts copied there first)",
        environment: {
          TF_IN_AUTOMATION: "1",
          TF_INPUT: "0",
          CHECKPOINT_DISABLE: "1",
          TF_DATA_DIR: "<temp dir>/tf-data",
        },
        commands: [
          [bin, ...args.init],
          [bin, ...args.run],
        ],
      },
    };
  }

  async function run(task: TaskMessage, ctx: ExecutorContext): Promise<ExecutorResult> {
    const parsed = parseTerraformConfig(task.config);
    if (!parsed.ok) return { ok: false, description: parsed.reason };
    const config = parsed.config;
    const budget = ctx.deadline.remainingMs() - margin;
    if (budget < MIN_RUN_MS) {
      return {
        ok: false,
        description: `not started: only ${seconds(ctx.deadline.remainingMs())} left before the Lambda deadline and ${seconds(margin)} are kept back (TERRAFORM_DEADLINE_MARGIN_MS); raise the function timeout`,
      };
    }
    const stopAt = performance.now() + budget;
    const left = () => stopAt - performance.now();
    const args = terraformArgs(task, config);

    const root = await mkdtemp(join(opts.workDir ?? tmpdir(), "stackseam-tf-"));
    try {
      const src = join(root, "src");
      await mkdir(src);
      const fetched = await fetchScripts(
        config.source,
        src,
        opts.s3,
        AbortSignal.timeout(Math.floor(budget)),
      );
      if (!fetched.ok) return fetched;
      ctx.logger.info("terraform scripts copied", { source: describeSource(config), files: fetched.files });
      const env = await childEnv(root);

      for (const [step, stepArgs] of [
        ["init", args.init],
        [config.action, args.run],
      ] as const) {
        const result = await runStep(ctx.logger, {
          bin,
          step,
          args: stepArgs,
          cwd: src,
          env,
          timeoutMs: left(),
          killGraceMs,
          margin,
        });
        if (!result.ok) return result;
      }
      return { ok: true, output: `terraform ${config.action} completed` };
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }

  return { run, plan };
}

async function runStep(
  logger: Logger,
  step: {
    bin: string;
    step: string;
    args: string[];
    cwd: string;
    env: NodeJS.ProcessEnv;
    timeoutMs: number;
    killGraceMs: number;
    margin: number;
  },
): Promise<ExecutorResult> {
  const tail = new OutputTail(OUTPUT_TAIL_BYTES);
  const name = `terraform ${step.step}`;
  logger.info(`${name} starting`, { step: step.step, bin: step.bin });
  const outcome = await runProcess({
    bin: step.bin,
    args: step.args,
    cwd: step.cwd,
    env: step.env,
    timeoutMs: step.timeoutMs,
    killGraceMs: step.killGraceMs,
    tail,
    onLine: (stream, line) => logger.info(line, { step: step.step, stream }),
  });
  const output = () => (tail.totalBytes > 0 ? `\n--- last output ---\n${tail.text()}` : "\n(no output)");
  switch (outcome.kind) {
    case "spawn-failed": {
      const code = outcome.error.code ?? "error";
      const why =
        code === "ENOENT"
          ? `the Terraform binary ${JSON.stringify(step.bin)} was not found (TERRAFORM_BIN); install terraform or tofu on PATH or set TERRAFORM_BIN to its absolute path (in Lambda, a layer providing /opt/bin/terraform)`
          : code === "EACCES"
            ? `the Terraform binary ${JSON.stringify(step.bin)} (TERRAFORM_BIN) is not executable`
            : `starting ${JSON.stringify(step.bin)} (TERRAFORM_BIN) failed: ${outcome.error.message}`;
      logger.error(`${name} could not start`, { code });
      return { ok: false, description: `${name} failed: ${why}` };
    }
    case "timed-out":
      logger.error(`${name} timed out`, { durationMs: Math.round(outcome.durationMs) });
      return {
        ok: false,
        description: `${name} timed out after ${seconds(outcome.durationMs)}: stopped ${seconds(step.margin)} before the Lambda deadline and its process group was killed${output()}`,
      };
    case "exited": {
      logger.info(`${name} exited`, {
        code: outcome.code,
        signal: outcome.signal,
        durationMs: Math.round(outcome.durationMs),
      });
      if (outcome.code === 0) return { ok: true };
      const status = outcome.code === null ? `killed by ${outcome.signal}` : `exit code ${outcome.code}`;
      return { ok: false, description: `${name} failed (${status})${output()}` };
    }
  }
}
