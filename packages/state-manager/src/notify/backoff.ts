// When a notification that failed is tried again.

/** Defaults of the sender (each can be overridden through NotifierOptions and the environment). */
export const NOTIFY_DEFAULTS = {
  /** One HTTP request (webhook) or AWS call (SNS, EventBridge) may take this long. */
  requestTimeoutMs: 2_000,
  /** What a batch spends on sending its own notifications after its transactions committed. */
  batchBudgetMs: 2_000,
  /** Attempts in all, the first included; after the last one fails the notification is given up. */
  maxAttempts: 10,
  /** Delay before the first retry; each later one doubles, up to maxDelayMs. */
  firstDelayMs: 30_000,
  maxDelayMs: 3_600_000,
  /** A claimed row is left to its claimer this long (a crashed sender's rows come due again after it). */
  leaseMs: 60_000,
  /** Deliveries in flight at once. */
  concurrency: 5,
  /** After a target timed out or failed with a 5xx, batches leave its notifications to the tick this long. */
  coolDownMs: 30_000,
} as const;

/**
 * The delay before attempt `attempt + 1`, after `attempt` attempts failed: exponential (30 s, 1 m,
 * 2 m, … up to 1 h by default) with equal jitter — half of it fixed, half random — so that many
 * notifications that failed together (one target down) do not all come back at the same tick.
 */
export function retryDelayMs(
  attempt: number,
  random: () => number,
  first: number = NOTIFY_DEFAULTS.firstDelayMs,
  max: number = NOTIFY_DEFAULTS.maxDelayMs,
): number {
  const exponential = Math.min(max, first * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}
