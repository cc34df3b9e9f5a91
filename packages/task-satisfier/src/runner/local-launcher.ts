import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LineSplitter } from "../output-tail.js";
import {
  ECS_OVERRIDES_LIMIT,
  type EnvEntry,
  type MessageStore,
  type RunnerLauncher,
  runnerEnvironment,
} from "./launcher.js";
import { parseRunnerSpec } from "./runner-spec.js";

export interface LocalRunnerLauncherOptions {
  /** The runner entry point; default: `runner-main.js` beside this module (the package's build). */
  entry?: string;
  /** Node options before the entry. */
  execArgv?: string[];
  /** Variables the runner gets besides this process's own and the message (as ECS would give them). */
  env: Record<string, string>;
  /** Where a message too big for ECS overrides goes, so the local runner takes the same path. */
  store?: MessageStore;
  /** The runner's output, line by line (default: this process's stderr). */
  onOutput?: (line: string, stream: "stdout" | "stderr") => void;
  /** How long `stop()` waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}

/** The built runner entry point beside this module (dist/runner-main.js). */
export function defaultRunnerEntry(): string {
  return fileURLToPath(new URL("../runner-main.js", import.meta.url));
}

/**
 * Runs the runner entry point as a child process of this one, in place of an ECS task: the same
 * runner spec check, the same environment (message inline or through S3), the same code path in
 * the child. For `stackseam dev` and end-to-end tests.
 */
export function localRunnerLauncher(
  opts: LocalRunnerLauncherOptions,
): RunnerLauncher & { running(): number; kill(): void } {
  const children = new Set<ChildProcess>();
  const entry = opts.entry ?? defaultRunnerEntry();
  const onOutput = opts.onOutput ?? ((line: string) => process.stderr.write(`${line}\n`));
  return {
    async launch(message, { logger }) {
      const parsed = parseRunnerSpec(message.runner);
      if (!parsed.ok) return { ok: false, description: parsed.reason };
      const name = parsed.spec.containerName;
      const fits = (entries: EnvEntry[]) =>
        JSON.stringify({ containerOverrides: [{ name, environment: entries }] }).length <=
        ECS_OVERRIDES_LIMIT;
      const env = await runnerEnvironment(message, opts.env, fits, opts.store);
      if (!env.ok) return env;
      const child = spawn(process.execPath, [...(opts.execArgv ?? []), entry], {
        env: { ...process.env, ...Object.fromEntries(env.entries.map((e) => [e.name, e.value])) },
        stdio: ["ignore", "pipe", "pipe"],
        // Its own group, so stop() reaches Terraform and whatever else it started.
        detached: true,
      });
      const started = await new Promise<{ ok: true } | { ok: false; description: string }>((resolve) => {
        child.once("spawn", () => resolve({ ok: true }));
        child.once("error", (err) =>
          resolve({ ok: false, description: `starting the local runner failed: ${err.message}` }),
        );
      });
      if (!started.ok) return started;
      children.add(child);
      for (const stream of ["stdout", "stderr"] as const) {
        const lines = new LineSplitter((line) => onOutput(line, stream));
        child[stream].on("data", (chunk: Buffer) => lines.push(chunk));
        child[stream].on("end", () => lines.end());
      }
      child.once("exit", () => children.delete(child));
      logger.info("runner task started", { runner: "local", pid: child.pid, messageVia: env.via });
      return { ok: true, id: `local:${child.pid}` };
    },
    async stop() {
      await Promise.all(
        [...children].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once("exit", () => resolve());
              const kill = (signal: NodeJS.Signals) => {
                try {
                  if (child.pid !== undefined) process.kill(-child.pid, signal);
                } catch {
                  // gone already
                }
              };
              kill("SIGTERM");
              setTimeout(() => kill("SIGKILL"), opts.stopGraceMs ?? 30_000).unref();
            }),
        ),
      );
    },
    running: () => children.size,
    /** SIGKILL to every runner and what it started in its group, at once (a forced stop). */
    kill() {
      for (const child of children) {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
    },
  };
}
