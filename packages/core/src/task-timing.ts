import { addMs, formatDuration, parseDuration } from "./duration.js";
import type { RetrySpec, TaskSpec } from "./generated/machine-spec.js";
import { isoTime } from "./iso-time.js";

/** A task's retry policy with every default filled in (durations in milliseconds). */
export interface RetryPolicy {
  attempts: number;
  delayMs: number;
  backoff: number;
  maxDelayMs: number;
  jitter: "full" | "none";
  on: ReadonlySet<"error" | "timeout">;
}

export const RETRY_DEFAULTS = { delay: "10s", backoff: 2, maxDelay: "10m", jitter: "none" } as const;

const ms = (text: string | undefined, fallback: string) => parseDuration(text ?? fallback) ?? 0;

/** The task's retry policy, or undefined when it has none (a failure waits for a person). */
export function retryPolicy(task: TaskSpec | undefined): RetryPolicy | undefined {
  const retry: RetrySpec | undefined = task?.retry;
  if (!retry) return undefined;
  return {
    attempts: retry.attempts,
    delayMs: ms(retry.delay, RETRY_DEFAULTS.delay),
    backoff: retry.backoff ?? RETRY_DEFAULTS.backoff,
    maxDelayMs: ms(retry.maxDelay, RETRY_DEFAULTS.maxDelay),
    jitter: retry.jitter ?? RETRY_DEFAULTS.jitter,
    on: new Set(retry.on ?? ["error", "timeout"]),
  };
}

/**
 * The wait before the attempt after `failedAttempt` (1-based): delay × backoff^(n-1), at most
 * maxDelay; with full jitter, a uniformly random part of it (`random` in [0, 1)).
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempt: number, random: number): number {
  const exponential = policy.delayMs * policy.backoff ** Math.max(0, failedAttempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  return policy.jitter === "full" ? Math.floor(random * capped) : capped;
}

/** When the failed attempt is retried, or undefined when it is not (no policy, not this kind, none left). */
export function retryAt(
  task: TaskSpec | undefined,
  failedAttempt: number,
  kind: "error" | "timeout",
  now: Date,
  random: number,
): string | undefined {
  const policy = retryPolicy(task);
  if (!policy || !policy.on.has(kind) || failedAttempt >= policy.attempts) return undefined;
  return addMs(now, retryDelayMs(policy, failedAttempt, random));
}

/**
 * When an attempt dispatched at `dispatchedAt` times out, seen at `now` (its dispatch, or a
 * heartbeat when `beat`). With `heartbeat`: that long after `now`, but never later than `timeout`
 * after the dispatch. Without it, a heartbeat starts `timeout` again from `now`.
 */
export function attemptDeadline(
  task: TaskSpec | undefined,
  dispatchedAt: string,
  now: Date,
  beat = false,
): string | undefined {
  const timeout = task?.timeout ? parseDuration(task.timeout) : undefined;
  const heartbeat = task?.heartbeat ? parseDuration(task.heartbeat) : undefined;
  const candidates: number[] = [];
  if (timeout !== undefined) {
    const from = beat && heartbeat === undefined ? now.getTime() : new Date(dispatchedAt).getTime();
    candidates.push(from + timeout);
  }
  if (heartbeat !== undefined) candidates.push(now.getTime() + heartbeat);
  return candidates.length === 0 ? undefined : isoTime(Math.min(...candidates));
}

/** "timed out after 20m" for an attempt dispatched at `dispatchedAt`, seen at `now`. */
export function timedOutReason(
  task: TaskSpec | undefined,
  dispatchedAt: string | undefined,
  now: Date,
): string {
  const ran = dispatchedAt ? formatDuration(now.getTime() - new Date(dispatchedAt).getTime()) : undefined;
  const limit = [task?.timeout && `timeout ${task.timeout}`, task?.heartbeat && `heartbeat ${task.heartbeat}`]
    .filter(Boolean)
    .join(", ");
  return `timed out${ran ? ` after ${ran}` : ""} (${limit || "no limit"}): no report arrived in time`;
}
