// Where the CPU went during a measurement (Linux /proc; zeros elsewhere): the whole machine, and
// the Postgres server processes, so a ratio can be read against what was saturated.
import { readdir, readFile } from "node:fs/promises";

const TICK_MS = 10; // USER_HZ is 100 on every Linux the bench targets

async function machineTicks() {
  try {
    const line = (await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "";
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

async function postgresTicks() {
  let ticks = 0;
  let pids;
  try {
    pids = (await readdir("/proc")).filter((p) => /^\d+$/.test(p));
  } catch {
    return 0;
  }
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const stat = await readFile(`/proc/${pid}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        if (!stat.slice(stat.indexOf("(") + 1, close).startsWith("postgres")) return;
        const fields = stat.slice(close + 2).split(" ");
        ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
      } catch {
        // the process ended meanwhile
      }
    }),
  );
  return ticks;
}

/** Starts measuring; `stop()` returns CPU milliseconds used by Postgres, this thread, and machine busy %. */
export async function cpuMeter() {
  const m0 = await machineTicks();
  const p0 = await postgresTicks();
  const t0 = process.threadCpuUsage();
  return {
    async stop() {
      const t = process.threadCpuUsage(t0);
      const m1 = await machineTicks();
      const p1 = await postgresTicks();
      const total = m1.total - m0.total;
      return {
        postgresMs: (p1 - p0) * TICK_MS,
        mainThreadMs: (t.user + t.system) / 1000,
        machineBusyPct: total > 0 ? (100 * (m1.busy - m0.busy)) / total : Number.NaN,
      };
    },
  };
}
