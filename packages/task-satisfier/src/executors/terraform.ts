import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type { TaskMessage } from "@stackseam/core";
import type { TerraformConfig } from "../config-types.js";
import {
  type Deadline,
  deadlineLabel,
  type Executor,
  type ExecutorContext,
  type ExecutorPlan,
  type ExecutorResult,
  raiseHint,
} from "../executor.js";
import { declaredBackend, HclSyntaxError, isConfigFile } from "../hcl-backend.js";
import { OutputTail } from "../output-tail.js";
import { terraformOutputs } from "../outputs.js";
import { type RunProcessOutcome, runProcess } from "../process-runner.js";
import { parseTerraformConfig } from "../task-config.js";
import { type BackendPlan, type BackendSettings, planBackend, prepareBackend } from "../terraform-backend.js";
import { backendKey, terraformArgs } from "../terraform-command.js";
import { plannedEnv, type TerraformEnvOptions, terraformEnv } from "../terraform-env.js";
import { fetchScripts, unreadableLocalSource } from "../terraform-source.js";

export const DEFAULT_TERRAFORM_BIN = "terraform";
/** Time kept back before the deadline to stop Terraform, clean up and send the report. */
export const DEFAULT_DEADLINE_MARGIN_MS = 30_000;
/** How much of the output an error description carries. */
export const OUTPUT_TAIL_BYTES = 4096;
/** The most `terraform output -json` may print (the outputs must then fit the report's 64 KiB). */
export const MAX_OUTPUT_JSON_BYTES = 8 * 1024 * 1024;
// Below this there is no point starting Terraform at all.
const MIN_RUN_MS = 1_000;

export interface TerraformExecutorOptions extends TerraformEnvOptions {
  s3: S3Client;
  bin?: string;
  /** Parent of the per-run temp dirs (default: the OS temp dir, /tmp in Lambda). */
  workDir?: string;
  deadlineMarginMs?: number;
  /** The state bucket for modules without a backend, and an S3-compatible endpoint (dev). */
  backend?: BackendSettings;
  /** `-lock-timeout` of apply/destroy, in seconds (default 300). */
  lockTimeoutSeconds?: number;
}

const seconds = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)} s`;

function describeSource(config: TerraformConfig): string {
  return config.source.type === "s3"
    ? `s3://${config.source.bucket}/${config.source.key}`
    : `local:${config.source.location}`;
}

/** The backend of a local source, read now (a dry run); null for S3 sources, which a dry run does not list. */
function localBackend(config: TerraformConfig, key: string, settings: BackendSettings): BackendPlan | null {
  if (config.source.type !== "local") return null;
  const from = resolve(config.source.location);
  try {
    const files = statSync(from).isFile()
      ? [{ name: basename(from), text: readFileSync(from, "utf8") }]
      : readdirSync(from, { withFileTypes: true })
          .filter((e) => isConfigFile(e.name) && !e.isDirectory())
          .map((e) => ({ name: e.name, text: readFileSync(join(from, e.name), "utf8") }));
    return planBackend(declaredBackend(files), key, settings);
  } catch (err) {
    if (err instanceof HclSyntaxError) return { ok: false, description: err.message };
    // The run would stop here too; saying so beats the S3 source's "not listed" note.
    return { ok: false, description: unreadableLocalSource(from, err) };
  }
}

/** One serialised `init` per plugin cache: Terraform does not promise that concurrent writers are safe. */
const cacheLocks = new Map<string, Promise<unknown>>();
async function underCacheLock<T>(dir: string | undefined, work: () => Promise<T>): Promise<T> {
  if (!dir) return work();
  const before = cacheLocks.get(dir) ?? Promise.resolve();
  const mine = before.then(work, work);
  const tail = mine.catch(() => undefined);
  cacheLocks.set(dir, tail);
  try {
    return await mine;
  } finally {
    if (cacheLocks.get(dir) === tail) cacheLocks.delete(dir);
  }
}

/**
 * Runs `terraform init`, then `apply`/`destroy`, then (after an apply) `terraform output -json`,
 * in a fresh temp dir, per the command contract in docs/task-satisfier.md.
 */
export function terraformExecutor(opts: TerraformExecutorOptions): Executor {
  const bin = opts.bin ?? DEFAULT_TERRAFORM_BIN;
  const margin = opts.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  const settings = opts.backend ?? {};
  // SIGTERM lets Terraform release its state lock; SIGKILL follows within part of the margin.
  const killGraceMs = Math.max(100, Math.min(10_000, Math.floor(margin / 3)));
  const argsFor = (task: TaskMessage, config: TerraformConfig, backend: BackendPlan & { ok: true }) =>
    terraformArgs(task, config, {
      backendConfig: backend.backendConfig,
      ...(opts.lockTimeoutSeconds !== undefined ? { lockTimeoutSeconds: opts.lockTimeoutSeconds } : {}),
    });

  function plan(task: TaskMessage): ExecutorPlan {
    const parsed = parseTerraformConfig(task.config);
    if (!parsed.ok) return { ok: false, description: parsed.reason };
    const config = parsed.config;
    const key = backendKey(task.machine, task.stackId, config.source);
    const local = localBackend(config, key, settings);
    if (local && !local.ok) return local;
    const declared = planBackend({ kind: "backend", type: "s3", file: "", line: 0 }, key, settings);
    const supplied = planBackend({ kind: "none" }, key, settings);
    const chosen = local ?? (declared.ok ? declared : supplied);
    if (!chosen.ok) return chosen;
    const args = argsFor(task, config, chosen);
    const commands = [
      [bin, ...args.init],
      [bin, ...args.run],
    ];
    if (config.action === "apply") commands.push([bin, ...args.output]);
    return {
      ok: true,
      plan: {
        executor: "terraform",
        source: describeSource(config),
        workingDirectory: "<fresh temp dir>/src (scripts copied there first)",
        environment: plannedEnv(opts),
        backend: local
          ? { key, mode: local.mode, type: local.type, ...(local.file ? { writes: local.file.name } : {}) }
          : {
              key,
              note: "an S3 source is not listed in a dry run: the commands assume the module declares an s3 backend",
              ifNoBackend: supplied.ok
                ? { writes: supplied.file?.name, backendConfig: supplied.backendConfig }
                : supplied.description,
            },
        commands,
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
        description: `not started: only ${seconds(ctx.deadline.remainingMs())} left before ${deadlineLabel(ctx.deadline)} and ${seconds(margin)} are kept back (TERRAFORM_DEADLINE_MARGIN_MS); ${raiseHint(ctx.deadline)}`,
      };
    }
    const stopAt = performance.now() + budget;
    const left = () => stopAt - performance.now();

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
      const key = backendKey(task.machine, task.stackId, config.source);
      const backend = await prepareBackend(src, key, settings);
      if (!backend.ok) return backend;
      ctx.logger.info("terraform backend", { mode: backend.mode, type: backend.type, key });
      const env = await terraformEnv(root, opts);
      const args = argsFor(task, config, backend);
      const step = (name: string, stepArgs: string[], extra: Partial<StepOptions> = {}) =>
        runStep(ctx, {
          bin,
          step: name,
          args: stepArgs,
          cwd: src,
          env,
          timeoutMs: left(),
          killGraceMs,
          margin,
          ...extra,
        });

      const init = await underCacheLock(env.TF_PLUGIN_CACHE_DIR, () => step("init", args.init));
      if (!init.ok) return init;
      const ran = await step(config.action, args.run);
      if (!ran.ok) return ran;
      if (config.action !== "apply") return { ok: true, output: `terraform ${config.action} completed` };
      // Its stdout holds sensitive values in clear: it is neither logged nor kept in the tail.
      const output = await step("output", args.output, { secretStdout: true });
      if (!output.ok) return output;
      const outputs = terraformOutputs(output.stdout ?? "");
      if (!outputs.ok) return outputs;
      return { ok: true, output: "terraform apply completed", outputs: outputs.outputs };
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }

  return { run, plan };
}

interface StepOptions {
  bin: string;
  step: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  killGraceMs: number;
  margin: number;
  secretStdout?: boolean;
}

/** What happened at a timeout or abort, with the times the signals were really sent. */
function stopDescription(
  name: string,
  outcome: Extract<RunProcessOutcome, { kind: "timed-out" | "aborted" }>,
  deadline: Deadline,
  reason: string,
): string {
  const { stop } = outcome;
  // Now is the end of the stop sequence; the deadline was this much further away at SIGTERM.
  const leftAtTerm = deadline.remainingMs() + (outcome.durationMs - stop.termAtMs);
  let text =
    outcome.kind === "aborted"
      ? `${name} was stopped (${reason}): SIGTERM sent ${seconds(stop.termAtMs)} after it started`
      : `${name} timed out: SIGTERM sent ${seconds(stop.termAtMs)} after it started (${seconds(leftAtTerm)} before ${deadlineLabel(deadline)})`;
  text +=
    stop.killAtMs !== undefined
      ? `, then SIGKILL ${seconds(stop.killAtMs - stop.termAtMs)} later because it was still running`
      : `; it stopped ${seconds(stop.endedAtMs - stop.termAtMs)} after SIGTERM`;
  if (outcome.strays > 0) text += ` (${outcome.strays} process(es) it had started were killed too)`;
  return text;
}

async function runStep(
  ctx: ExecutorContext,
  step: StepOptions,
): Promise<{ ok: true; stdout?: string } | { ok: false; description: string }> {
  const { logger } = ctx;
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
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    tail,
    ...(step.secretStdout ? { tailStdout: false, captureStdoutBytes: MAX_OUTPUT_JSON_BYTES } : {}),
    onLine: (stream, line) => {
      if (!(step.secretStdout && stream === "stdout")) logger.info(line, { step: step.step, stream });
    },
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
    case "aborted": {
      logger.error(`${name} ${outcome.kind}`, {
        durationMs: Math.round(outcome.durationMs),
        ...outcome.stop,
      });
      const reason =
        ctx.signal?.reason instanceof Error ? ctx.signal.reason.message : String(ctx.signal?.reason ?? "");
      return { ok: false, description: `${stopDescription(name, outcome, ctx.deadline, reason)}${output()}` };
    }
    case "exited": {
      logger.info(`${name} exited`, {
        code: outcome.code,
        signal: outcome.signal,
        durationMs: Math.round(outcome.durationMs),
        ...(outcome.strays > 0 ? { strays: outcome.strays } : {}),
      });
      if (outcome.code !== 0) {
        const status = outcome.code === null ? `killed by ${outcome.signal}` : `exit code ${outcome.code}`;
        return { ok: false, description: `${name} failed (${status})${output()}` };
      }
      if (!step.secretStdout) return { ok: true };
      if (outcome.stdout === null) {
        return {
          ok: false,
          description: `${name} printed more than ${MAX_OUTPUT_JSON_BYTES} bytes; the outputs are too big to report`,
        };
      }
      return { ok: true, stdout: outcome.stdout?.toString("utf8") ?? "" };
    }
  }
}
