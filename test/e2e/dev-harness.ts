import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { DevInstance } from "../../packages/cli/src/connection.js";

const run = promisify(execFile);

/** The repository root: the CLI is run from here, as a developer would. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "packages/cli/dist/main.js");

/** Hang guard for waits; a wait that hits it fails the test with what the process printed. */
const WAIT_LIMIT_MS = 60_000;

let built: Promise<void> | null = null;

const BUILD_LOCK = join(ROOT, "node_modules/.cache/stackseam-e2e-build.lock");

/** Test files run in parallel workers; two `tsc -b` writing the same dist/ must not overlap. */
async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  await mkdir(dirname(BUILD_LOCK), { recursive: true });
  for (;;) {
    try {
      await mkdir(BUILD_LOCK);
      break;
    } catch {
      // A lock left by a killed run is stale after a few minutes.
      const age = Date.now() - (await stat(BUILD_LOCK).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 300_000) await rm(BUILD_LOCK, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await work();
  } finally {
    await rm(BUILD_LOCK, { recursive: true, force: true });
  }
}

/**
 * Builds the CLI and the packages it references (`tsc -b`, incremental), once per test file.
 * STACKSEAM_E2E_PREBUILT=1 skips it when the build already ran (CI builds before testing).
 */
export function buildCli(): Promise<void> {
  if (process.env.STACKSEAM_E2E_PREBUILT === "1") return Promise.resolve();
  built ??= withBuildLock(() =>
    run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-b", "packages/cli"], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    }),
  ).then(
    () => undefined,
    (err: { stdout?: string; message: string }) => {
      throw new Error(`tsc -b packages/cli failed:\n${err.stdout ?? err.message}`);
    },
  );
  return built;
}

/** A fresh, empty data dir; as root, the embedded PostgreSQL's OS user must be able to enter it. */
export async function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "stackseam-e2e-"));
}

/**
 * The environment the CLI children get: connection variables of the test process are removed so
 * that `send` and `stacks` find the running dev through its dev.json, as on a laptop.
 */
function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" };
  for (const key of Object.keys(env)) {
    if (
      key === "DATABASE_URL" ||
      key.startsWith("SQS_") ||
      key.startsWith("AWS_") ||
      key === "STACKSEAM_DATA_DIR"
    ) {
      delete env[key];
    }
  }
  // No AWS credentials, as on a fresh laptop: the CLI must reach dev without them.
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `stackseam <args>` against the dev instance in `dataDir`. */
export async function cli(dataDir: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd: ROOT, env: cleanEnv({ STACKSEAM_DATA_DIR: dataDir }), maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(err);
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      },
    );
  });
}

/** Like `cli` but the command must succeed. */
export async function cliOk(dataDir: string, args: string[]): Promise<string> {
  const r = await cli(dataDir, args);
  if (r.code !== 0) throw new Error(`stackseam ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export type DevInstanceFile = DevInstance;

export interface DevProcess {
  child: ChildProcess;
  dataDir: string;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves once the output matches; fails with the output after the hang guard. */
  waitFor(pattern: RegExp): Promise<void>;
  /** The dev.json written at "ready". */
  instance(): DevInstanceFile;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface DevStartOptions {
  dataDir: string;
  /** null: no DATABASE_URL (embedded PostgreSQL). */
  databaseUrl: string | null;
  specsDir?: string;
  functionsDir?: string;
  /** More environment for dev (e.g. TERRAFORM_DEADLINE_MARGIN_MS). */
  env?: Record<string, string>;
}

/** Spawns `stackseam dev --port 0` and waits for "ready". */
export async function startDev(opts: DevStartOptions): Promise<DevProcess> {
  const args = [MAIN, "dev", "--port", "0", "--data-dir", opts.dataDir];
  if (opts.specsDir) args.push("--specs", opts.specsDir);
  if (opts.functionsDir) args.push("--functions", opts.functionsDir);
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // The example specs freeze RUN stacks at 19:00 Berlin on weekdays: a test must not cross that.
    env: cleanEnv({
      STACKSEAM_DEV_SCHEDULES: "off",
      ...opts.env,
      DATABASE_URL: opts.databaseUrl ?? undefined,
    }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const l of listeners) l();
  });

  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(out)) {
          cleanup();
          resolve();
        } else if (done) {
          cleanup();
          reject(new Error(`dev exited before printing ${pattern}:\n${out}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`dev did not print ${pattern}:\n${out}`));
      }, WAIT_LIMIT_MS);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const dev: DevProcess = {
    child,
    dataDir: opts.dataDir,
    output: () => out,
    waitFor,
    instance: () => JSON.parse(readFileSync(join(opts.dataDir, "dev.json"), "utf8")) as DevInstanceFile,
    async stop(signal: NodeJS.Signals = "SIGINT") {
      if (!done) child.kill(signal);
      return exited;
    },
    exited,
  };
  try {
    await waitFor(/\bready\b/);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return dev;
}

/** Polls `check` until it returns a value (not undefined); the hang guard fails with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True while a process with this pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Pids of the live (non-zombie) children of a process, from /proc. */
export function childPids(pid: number): number[] {
  const path = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").trim().split(/\s+/).filter(Boolean).map(Number).filter(alive);
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
