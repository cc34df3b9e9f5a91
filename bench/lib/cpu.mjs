// Where the CPU went during a measurement (Linux /proc; zeros elsewhere): the whole machine, and
// the Postgres server processes, so a ratio can be read against what was saturated.
import { readdir, readFile } from "node:fs/promises";

export const TICK_MS = 10; // USER_HZ is 100 on every Linux the bench targets

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

/** Every process's parent, name and CPU ticks (user + system), by pid; null without /proc. */
export async function processes() {
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
        const fields = stat.slice(close + 2).split(" ");
        out.set(Number(pid), {
          comm: stat.slice(stat.indexOf("(") + 1, close),
          ppid: Number(fields[1]),
          ticks: Number(fields[11]) + Number(fields[12]), // utime, stime
        });
      } catch {
        // the process ended meanwhile
      }
    }),
  );
  return out;
}

/** A Postgres server process (its name, as the server sets it). */
export const isPostgres = (proc) => proc.comm.startsWith("postgres");

/** CPU ticks (user + system) of every postgres process, by pid. */
async function postgresTicks() {
  const ticks = new Map();
  for (const [pid, p] of (await processes()) ?? []) if (isPostgres(p)) ticks.set(pid, p.ticks);
  return ticks;
}

/**
 * The Postgres processes that work for `database`: its sessions and the server's own background
 * processes (WAL writer, checkpointer…), not other databases' sessions (a shared server runs
 * other work too). Null without a client: every postgres process counts.
 */
async function ourPids(client, database) {
  if (!client) return null;
  const { rows } = await client.query(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR (datname IS NULL AND backend_type <> 'client backend')",
    [database],
  );
  return new Set(rows.map((r) => r.pid));
}

/**
 * Starts measuring; `stop()` returns CPU milliseconds used by Postgres, this thread, and machine
 * busy %. With `{ client, database }`, Postgres is only the processes working for that database
 * (sessions that ended during the measurement are missed: keep pools open until it stops).
 */
export async function cpuMeter({ client = null, database = null } = {}) {
  const m0 = await machineTicks();
  const p0 = await postgresTicks();
  const t0 = process.threadCpuUsage();
  return {
    async stop() {
      const t = process.threadCpuUsage(t0);
      const m1 = await machineTicks();
      const p1 = await postgresTicks();
      const pids = await ourPids(client, database);
      let postgres = 0;
      for (const [pid, t1] of p1) if (!pids || pids.has(pid)) postgres += t1 - (p0.get(pid) ?? 0);
      const total = m1.total - m0.total;
      return {
        postgresMs: postgres * TICK_MS,
        mainThreadMs: (t.user + t.system) / 1000,
        machineBusyPct: total > 0 ? (100 * (m1.busy - m0.busy)) / total : Number.NaN,
      };
    },
  };
}
