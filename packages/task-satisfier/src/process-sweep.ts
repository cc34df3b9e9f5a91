import { readdir, readFile } from "node:fs/promises";

/**
 * The environment variable every process of one run inherits: `setsid` or a double fork takes a
 * process out of the run's process group and session, but not out of its environment, so the
 * run's leftovers can still be found in /proc and stopped. Unprivileged and cgroup-free: it needs
 * only /proc (Linux, Lambda) and the same user; elsewhere the sweep finds nothing.
 */
export const RUN_MARKER_VAR = "STACKSEAM_RUN_ID";

/** Pids of live processes (other than this one) whose initial environment holds `RUN_MARKER_VAR=<id>`. */
export async function markedProcesses(id: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return [];
  }
  const needle = Buffer.from(`${RUN_MARKER_VAR}=${id}\0`);
  const found: number[] = [];
  await Promise.all(
    names.map(async (name) => {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
      let environ: Buffer;
      try {
        environ = await readFile(`/proc/${pid}/environ`);
      } catch {
        return; // gone, or another user's process
      }
      for (let at = environ.indexOf(needle); at !== -1; at = environ.indexOf(needle, at + 1)) {
        if (at === 0 || environ[at - 1] === 0) {
          found.push(pid);
          return;
        }
      }
    }),
  );
  return found;
}

/**
 * Sends `signal` to every process marked with `id`, again and again while new ones appear (a
 * process may fork while it is being stopped). Returns how many were signalled.
 */
export async function signalMarked(id: string, signal: NodeJS.Signals, rounds = 5): Promise<number> {
  const signalled = new Set<number>();
  for (let round = 0; round < rounds; round++) {
    const pids = (await markedProcesses(id)).filter((pid) => !signalled.has(pid) || signal === "SIGKILL");
    const fresh = pids.filter((pid) => !signalled.has(pid));
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
        signalled.add(pid);
      } catch {
        // already gone
      }
    }
    if (fresh.length === 0) break;
  }
  return signalled.size;
}
