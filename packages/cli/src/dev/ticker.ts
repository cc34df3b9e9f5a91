import type { Tick, TickResult } from "@stackseam/state-manager";

/** How often dev ticks (deployed, EventBridge Scheduler runs it every minute). */
export const DEV_TICK_MS = 1_000;
/** How long one dev tick may claim new work before it leaves the rest to the next. */
const DEV_TICK_BUDGET_MS = 5_000;

export interface Ticker {
  /** Stops ticking and waits for a tick under way to finish. */
  stop(): Promise<void>;
}

/**
 * Runs `tick` every `everyMs`, one at a time (the next starts `everyMs` after the last ended), for
 * as long as dev runs. A failed tick is reported and the next one tries again.
 */
export function startTicker(
  tick: Tick,
  onError: (err: unknown) => void,
  opts: { everyMs?: number; onResult?: (result: TickResult) => void } = {},
): Ticker {
  const everyMs = opts.everyMs ?? DEV_TICK_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick.run(DEV_TICK_BUDGET_MS).then(
        (result) => opts.onResult?.(result),
        (err: unknown) => onError(err),
      );
      void running.finally(schedule);
    }, everyMs);
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** Whether a tick's log record is worth keeping: a tick that did nothing is not (dev ticks every second). */
export function worthLogging(record: Record<string, unknown>): boolean {
  if (record.message !== "tick done") return true;
  if (record.outOfTime === true) return true;
  return [
    "timersFired",
    "timersStale",
    "timersFailed",
    "scheduleEvents",
    "schedulesCompleted",
    "outboxResent",
  ].some((k) => typeof record[k] === "number" && record[k] > 0);
}
