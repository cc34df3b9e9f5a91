// CPU used by work that is not the benchmark's: every process outside the bench's own process tree
// and the Postgres server it drives, read from /proc (Linux; null elsewhere). The load average
// cannot tell this: the bench's own worker threads and Postgres sessions load the machine too, so
// a bench alone on 8 workers shows a load of 4 on 2 cores.
import { readdir, readFile } from "node:fs/promises";

const TICK_MS = 10; // USER_HZ is 100 on every Linux the bench targets

/** Every process's parent, name and CPU ticks (user + system), by pid; null without /proc. */
async function processes() {
  let pids;
  try {
    pids = (await readdir("/proc")).filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  const out = new Map();
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const stat = await readFile(`/proc/${pid}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        const comm = stat.slice(stat.indexOf("(") + 1, close);
        const fields = stat.slice(close + 2).split(" ");
        out.set(Number(pid), {
          comm,
          ppid: Number(fields[1]),
          ticks: Number(fields[11]) + Number(fields[12]),
        });
      } catch {
        // the process ended meanwhile
      }
    }),
  );
  return out;
}

/** The pids of `root` and everything it started, as far as they still run. */
function tree(procs, root) {
  const children = new Map();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const mine = new Set([root]);
  const todo = [root];
  while (todo.length > 0) {
    for (const child of children.get(todo.pop()) ?? []) {
      if (!mine.has(child)) {
        mine.add(child);
        todo.push(child);
      }
    }
  }
  return mine;
}

/**
 * Starts watching; each `sample()` returns the cores (CPU seconds per second) that other work used
 * since the previous sample, or null where /proc cannot be read. Postgres counts as the bench's:
 * it is the server the bench drives (a shared server's other sessions are counted as the bench's
 * too, which can only hide other work, never invent it).
 */
export async function otherWorkMeter(root = process.pid) {
  let before = await processes();
  let at = performance.now();
  return {
    async sample() {
      const now = await processes();
      const t = performance.now();
      if (!before || !now) return null;
      const ours = tree(now, root);
      let ticks = 0;
      for (const [pid, p] of now) {
        if (ours.has(pid) || p.comm.startsWith("postgres")) continue;
        // A process that started since the last sample counts all it used.
        ticks += p.ticks - (before.get(pid)?.ticks ?? 0);
      }
      const cores = (ticks * TICK_MS) / (t - at);
      before = now;
      at = t;
      return Math.max(0, cores);
    },
  };
}
