// CPU used by work that is not the benchmark's: every process outside the bench's own process tree
// and the Postgres server it drives, read from /proc (Linux; null elsewhere). The load average
// cannot tell this: the bench's own worker threads and Postgres sessions load the machine too, so
// a bench alone on 8 workers shows a load of 4 on 2 cores.
import { isPostgres, processes, TICK_MS } from "./cpu.mjs";

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
        if (ours.has(pid) || isPostgres(p)) continue;
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

/**
 * The other work of a run from its samples: median and peak cores, and whether that means the
 * machine was shared (steady use above a tenth of a core, or a burst above half of one).
 */
export function otherWorkSummary(samples) {
  if (!samples || samples.length === 0) return null;
  const median = samples.slice().sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? 0;
  const max = Math.max(...samples);
  return { median, max, shared: median > 0.1 || max > 0.5 };
}
