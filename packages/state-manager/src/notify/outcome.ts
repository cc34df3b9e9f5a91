// What one delivery attempt came to, as data: the sender turns it into sent / retry / failed rows.

/** The result of one attempt to deliver one notification. */
export type Delivery =
  | { kind: "sent" }
  /** Worth trying again later: a 5xx, a timeout, a network error, throttling. */
  | { kind: "retry"; error: string; afterMs?: number }
  /** Trying again would not help: the target refused it (4xx), or it can never be sent as configured. */
  | { kind: "failed"; error: string };

export const sent: Delivery = { kind: "sent" };

/**
 * A transient failure (error text must hold no secret and no URL path or query); `afterMs`: the
 * target asked not to be called again sooner (Retry-After).
 */
export function retry(error: string, afterMs?: number): Delivery {
  return afterMs === undefined ? { kind: "retry", error } : { kind: "retry", error, afterMs };
}

/** A permanent failure (error text must hold no secret and no URL path or query). */
export function failed(error: string): Delivery {
  return { kind: "failed", error };
}

/** The fields of an AWS SDK v3 service error the sender reads. */
interface SdkError {
  name?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

// Throttling comes back as a 400 from SNS and EventBridge: it is "try later", not "refused".
const THROTTLING = /throttl|toomanyrequests|limitexceeded|requestlimit|slowdown/i;

/**
 * Classifies an error thrown by an AWS SDK client's send: no response, a 5xx or throttling is
 * retried; any other 4xx (not found, access denied, invalid parameter) is not. The error text is
 * the error's name, status and the start of AWS's message (which names ARNs, never our secrets).
 */
export function fromSdkError(err: unknown, timeoutMs: number, timedOut: boolean): Delivery {
  const e = (err ?? {}) as SdkError;
  const name = typeof e.name === "string" ? e.name : "Error";
  if (timedOut || name === "AbortError" || name === "TimeoutError") {
    return retry(`no response within ${timeoutMs} ms`);
  }
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  const message = typeof e.message === "string" ? e.message.replace(/\s+/g, " ").slice(0, 200) : "";
  const text = `${name}${status !== undefined ? ` (HTTP ${status})` : ""}${message ? `: ${message}` : ""}`;
  if (status === undefined) return retry(text);
  if (status >= 500 || status === 429 || e.$retryable !== undefined || THROTTLING.test(name))
    return retry(text);
  return failed(text);
}
