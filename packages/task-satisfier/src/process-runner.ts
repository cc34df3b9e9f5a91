import { spawn } from "node:child_process";
import { LineSplitter, type OutputTail } from "./output-tail.js";

export interface RunProcessOptions {
  bin: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The process group is sent SIGTERM after this long. */
  timeoutMs: number;
  /** Then SIGKILL this long after SIGTERM if anything in the group is still alive. */
  killGraceMs: number;
  /** Combined stdout + stderr tail, for the error description. */
  tail: OutputTail;
  onLine(stream: "stdout" | "stderr", line: string): void;
}

export type RunProcessOutcome =
  | { kind: "exited"; code: number | null; signal: NodeJS.Signals | null; durationMs: number }
  | { kind: "timed-out"; durationMs: number }
  | { kind: "spawn-failed"; error: NodeJS.ErrnoException };

// Streams held open by a process that escaped the group must not hang the task forever.
const STDIO_DRAIN_MS = 2_000;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group is already gone.
  }
}

/**
 * Runs a program without a shell in its own process group, streaming its output by line and
 * keeping a bounded tail; at the timeout the whole group gets SIGTERM, then SIGKILL.
 */
export function runProcess(opts: RunProcessOptions): Promise<RunProcessOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(opts.bin, [...opts.args], {
      cwd: opts.cwd,
      env: opts.env,
      shell: false,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let timedOut = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timers: NodeJS.Timeout[] = [];
    const finish = (outcome: RunProcessOutcome) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      if (killTimer) clearTimeout(killTimer);
      resolve(outcome);
    };

    const splitters = {
      stdout: new LineSplitter((line) => opts.onLine("stdout", line)),
      stderr: new LineSplitter((line) => opts.onLine("stderr", line)),
    };
    for (const stream of ["stdout", "stderr"] as const) {
      child[stream].on("data", (chunk: Buffer) => {
        opts.tail.push(chunk);
        splitters[stream].push(chunk);
      });
    }

    child.on("error", (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish({ kind: "spawn-failed", error });
    });

    const pid = child.pid;
    if (pid === undefined) return; // the "error" event follows

    timers.push(
      setTimeout(
        () => {
          timedOut = true;
          killGroup(pid, "SIGTERM");
          killTimer = setTimeout(() => killGroup(pid, "SIGKILL"), opts.killGraceMs);
        },
        Math.max(0, Math.floor(opts.timeoutMs)),
      ),
    );

    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const done = () => {
      splitters.stdout.end();
      splitters.stderr.end();
      const durationMs = performance.now() - started;
      finish(
        timedOut || !exit
          ? { kind: "timed-out", durationMs }
          : { kind: "exited", code: exit.code, signal: exit.signal, durationMs },
      );
    };
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      // Whatever the leader left behind in its group (providers, stray children) goes with it.
      killGroup(pid, "SIGKILL");
      timers.push(
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          done();
        }, STDIO_DRAIN_MS),
      );
    });
    child.once("close", done);
  });
}
