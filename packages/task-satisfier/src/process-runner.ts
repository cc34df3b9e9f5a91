import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { LineSplitter, type OutputTail } from "./output-tail.js";
import { RUN_MARKER_VAR, signalMarked } from "./process-sweep.js";

export interface RunProcessOptions {
  bin: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The process and everything it started get SIGTERM after this long. */
  timeoutMs: number;
  /** Then SIGKILL this long after SIGTERM if any of them is still alive. */
  killGraceMs: number;
  /** Starts the same stop sequence early (a runner being stopped). */
  signal?: AbortSignal;
  /** Combined output tail, for the error description. */
  tail: OutputTail;
  /** False: stdout stays out of the tail (it may hold secrets, e.g. `terraform output -json`). */
  tailStdout?: boolean;
  /** Keep all of stdout, up to this many bytes (more makes `stdout` null). */
  captureStdoutBytes?: number;
  onLine(stream: "stdout" | "stderr", line: string): void;
}

/** When the stop sequence ran, in ms since the start. */
export interface StopTimes {
  termAtMs: number;
  /** Absent when everything had ended within the grace period. */
  killAtMs?: number;
  endedAtMs: number;
}

export type RunProcessOutcome =
  | {
      kind: "exited";
      code: number | null;
      signal: NodeJS.Signals | null;
      durationMs: number;
      stdout?: Buffer | null;
      /** Processes the run left behind (outside its group too) that were killed after it exited. */
      strays: number;
    }
  | { kind: "timed-out" | "aborted"; durationMs: number; stop: StopTimes; strays: number }
  | { kind: "spawn-failed"; error: NodeJS.ErrnoException };

// Streams held open by a process that escaped every sweep must not hang the task forever.
const STDIO_DRAIN_MS = 2_000;

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the whole group is already gone.
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a program without a shell in its own session and process group, streaming its output by
 * line and keeping a bounded tail. Every process it starts inherits a run marker in its
 * environment, so at the timeout (or abort) SIGTERM and then SIGKILL reach the group *and* any
 * process that left it with `setsid`; when the program exits, whatever it left behind is killed.
 */
export function runProcess(opts: RunProcessOptions): Promise<RunProcessOutcome> {
  const started = performance.now();
  const since = () => performance.now() - started;
  const runId = randomUUID();
  return new Promise((resolve) => {
    const child = spawn(opts.bin, [...opts.args], {
      cwd: opts.cwd,
      env: { ...opts.env, [RUN_MARKER_VAR]: runId },
      shell: false,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stopping: "timed-out" | "aborted" | null = null;
    let settled = false;
    const stop: Partial<StopTimes> = {};
    const timers: NodeJS.Timeout[] = [];
    let strays = 0;
    let stdout: Buffer[] | null = opts.captureStdoutBytes !== undefined ? [] : null;
    let stdoutBytes = 0;
    let overflow = false;
    const onAbort = () => beginStop("aborted");

    const finish = (outcome: RunProcessOutcome) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };

    const splitters = {
      stdout: new LineSplitter((line) => opts.onLine("stdout", line)),
      stderr: new LineSplitter((line) => opts.onLine("stderr", line)),
    };
    for (const stream of ["stdout", "stderr"] as const) {
      child[stream].on("data", (chunk: Buffer) => {
        if (stream === "stderr" || opts.tailStdout !== false) opts.tail.push(chunk);
        splitters[stream].push(chunk);
        if (stream === "stdout" && stdout && opts.captureStdoutBytes !== undefined) {
          stdoutBytes += chunk.length;
          if (stdoutBytes > opts.captureStdoutBytes) {
            overflow = true;
            stdout = [];
          } else if (!overflow) stdout.push(chunk);
        }
      });
    }

    child.on("error", (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish({ kind: "spawn-failed", error });
    });

    const pid = child.pid;
    if (pid === undefined) return; // the "error" event follows

    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

    function beginStop(kind: "timed-out" | "aborted") {
      if (stopping || exit) return;
      stopping = kind;
      stop.termAtMs = since();
      killGroup(pid as number, "SIGTERM");
      void signalMarked(runId, "SIGTERM").then((n) => {
        strays = Math.max(strays, n);
      });
      // SIGTERM lets Terraform release its state lock; SIGKILL follows if anything is still alive.
      timers.push(
        setTimeout(() => {
          void signalMarked(runId, "SIGKILL").then((n) => {
            const groupLeft = killGroup(pid as number, "SIGKILL");
            if (groupLeft || n > 0) stop.killAtMs = since();
          });
        }, opts.killGraceMs),
      );
    }

    if (opts.signal?.aborted) beginStop("aborted");
    else opts.signal?.addEventListener("abort", onAbort, { once: true });
    timers.push(setTimeout(() => beginStop("timed-out"), Math.max(0, Math.floor(opts.timeoutMs))));

    let ended = false;
    const done = () => {
      if (ended) return;
      ended = true;
      splitters.stdout.end();
      splitters.stderr.end();
      const durationMs = since();
      if (stopping || !exit) {
        const times: StopTimes = { termAtMs: stop.termAtMs ?? durationMs, endedAtMs: durationMs };
        if (stop.killAtMs !== undefined) times.killAtMs = stop.killAtMs;
        finish({ kind: stopping ?? "timed-out", durationMs, stop: times, strays });
        return;
      }
      finish({
        kind: "exited",
        code: exit.code,
        signal: exit.signal,
        durationMs,
        strays,
        ...(stdout ? { stdout: overflow ? null : Buffer.concat(stdout) } : {}),
      });
    };

    // Resolves once the program has exited and whatever it left behind has been killed.
    const swept = new Promise<void>((resolveSwept) => {
      child.once("exit", (code, signal) => {
        exit = { code, signal };
        // Leftovers in its group or out of it (providers, stray children, setsid escapes) go with it.
        const leftInGroup = groupAlive(pid);
        killGroup(pid, "SIGKILL");
        void signalMarked(runId, "SIGKILL").then((n) => {
          strays += n + (leftInGroup ? 1 : 0);
          if (stopping && (n > 0 || leftInGroup) && stop.killAtMs === undefined) stop.killAtMs = since();
          resolveSwept();
        });
      });
    });
    void swept.then(() => {
      // Pipes still held by a process that escaped even the sweep: stop waiting for them.
      timers.push(
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          done();
        }, STDIO_DRAIN_MS),
      );
    });
    child.once("close", () => void swept.then(done));
  });
}
