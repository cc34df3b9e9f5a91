import { execFile, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../../../test/e2e/dev-harness.js";

/** The committed bin shim, as npm links it: what a person runs. */
export const BIN = join(ROOT, "packages/cli/bin/stackseam.mjs");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * An environment like a fresh terminal's: no connection variables from the test process (so the
 * CLI finds dev through the data dir), no colour unless asked, then `extra` (undefined removes).
 */
export function terminalEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const key of Object.keys(env)) {
    if (
      key === "DATABASE_URL" ||
      key === "FORCE_COLOR" ||
      key.startsWith("SQS_") ||
      key.startsWith("AWS_") ||
      key.startsWith("MACHINE_") ||
      key === "STACKSEAM_DATA_DIR"
    ) {
      delete env[key];
    }
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs `stackseam <args>` through the bin shim; never rejects on a non-zero exit. */
export function stackseam(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  opts: { cwd?: string; input?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: opts.cwd ?? ROOT, env: terminalEnv(env), maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(err);
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs any program (npm, bash, script…) to completion. */
export function runProgram(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: opts.cwd ?? ROOT,
        env: opts.env ?? process.env,
        maxBuffer: 64 * 1024 * 1024,
        ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(err);
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      },
    );
  });
}

/** True when `name` runs here (a shell, `script`…); tests that need it are skipped otherwise. */
export function hasProgram(name: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A child that keeps running; its output accumulates. */
export function spawnProgram(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv },
) {
  const child = spawn(file, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}
