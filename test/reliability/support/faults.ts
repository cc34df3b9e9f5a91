import type pg from "pg";
import type { EventQueue } from "./event-queue.js";
import type { Rng } from "./random.js";
import type { WorkerFaults } from "./workers.js";

/** When each fault strikes, in batches handled (the run's own clock: no wall time involved). */
export interface FaultPlan {
  /** Terminate 1–3 random worker sessions every this many batches… */
  sessionKillEvery: number;
  /** …until this batch; afterwards the queues drain without faults. */
  faultsUntil: number;
  /** [from, to) batch windows during which every SQS send of the workers fails. */
  sqsOutages: [number, number][];
  /** Batches after which the next machine lookup kills its worker mid-batch. */
  workerKills: number[];
  /** Restart Postgres after this batch (only when the test owns the server). */
  restartAt?: number;
  restart?: () => Promise<void>;
}

export interface FaultCounts {
  sessionsTerminated: number;
  sessionKillRounds: number;
  outageBatches: number;
  killsArmed: number;
  restarts: number;
  restartError?: string;
}

/** Builds the workers' fault hooks for a plan; counts what was actually injected. */
export function faultSchedule(
  plan: FaultPlan,
  admin: pg.Pool,
  rng: Rng,
  queue?: EventQueue,
): { faults: WorkerFaults; counts: FaultCounts; settled(): Promise<void> } {
  const counts: FaultCounts = {
    sessionsTerminated: 0,
    sessionKillRounds: 0,
    outageBatches: 0,
    killsArmed: 0,
    restarts: 0,
  };
  let batches = 0;
  let armed = 0;
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  async function terminateSome(): Promise<void> {
    const res = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'stackseam-rel-w%'",
    );
    const victims = rng.shuffle(res.rows.map((r) => r.pid)).slice(0, rng.int(1, 3));
    if (victims.length === 0) return;
    const done = await admin.query<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid",
      [victims],
    );
    counts.sessionKillRounds += 1;
    counts.sessionsTerminated += done.rows.filter((r) => r.ok).length;
  }

  const inOutage = () => plan.sqsOutages.some(([from, to]) => batches >= from && batches < to);
  const faults: WorkerFaults = {
    sqsDown: () => inOutage(),
    killNow() {
      if (armed === 0) return false;
      armed -= 1;
      return true;
    },
    afterBatch(n) {
      batches = n;
      if (inOutage()) counts.outageBatches += 1;
      if (plan.workerKills.includes(n)) {
        armed += 1;
        counts.killsArmed += 1;
      }
      if (n < plan.faultsUntil && n % plan.sessionKillEvery === 0) track(terminateSome().catch(() => {}));
      if (plan.restart && n === plan.restartAt) {
        const restart = plan.restart;
        // A restart lasts seconds, a visibility timeout minutes: see EventQueue.hold.
        queue?.hold();
        track(
          restart()
            .finally(() => queue?.release())
            .then(
              () => {
                counts.restarts += 1;
              },
              (err: unknown) => {
                counts.restartError = String(err);
              },
            ),
        );
      }
    },
  };
  return {
    faults,
    counts,
    async settled() {
      await Promise.all([...pending]);
    },
  };
}
