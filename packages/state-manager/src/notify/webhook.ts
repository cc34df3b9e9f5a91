// A webhook target: one signed JSON POST per attempt, with a hard timeout; what came back becomes a
// Delivery. Error texts are built from status and error codes only, never from the URL.
import type { Notification } from "@stackseam/core";
import { type Delivery, failed, retry, sent } from "./outcome.js";
import { type NotificationPayload, slackMessage } from "./payload.js";
import { ID_HEADER, SIGNATURE_HEADER, signatureHeader } from "./signature.js";

export type WebhookTarget = NonNullable<Notification["destination"]["webhook"]>;

export interface WebhookRequest {
  target: WebhookTarget;
  payload: NotificationPayload;
  /** The signing secret (undefined: the target has none, the request is not signed). */
  secret: string | undefined;
  timeoutMs: number;
  /** Seconds since the epoch by the wall clock (what a receiver compares the signature time with). */
  unixSeconds: number;
}

const USER_AGENT = "stackseam-notifications/1";
// Retry-After longer than this is not honoured as such (the backoff schedule takes over).
const MAX_RETRY_AFTER_MS = 3_600_000;

/** Sends one webhook request; never throws. */
export async function deliverWebhook(req: WebhookRequest): Promise<Delivery> {
  const text =
    req.target.format === "slack" ? JSON.stringify(slackMessage(req.payload)) : JSON.stringify(req.payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    [ID_HEADER]: req.payload.id,
  };
  if (req.secret !== undefined)
    headers[SIGNATURE_HEADER] = signatureHeader(req.secret, text, req.unixSeconds);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), req.timeoutMs);
  try {
    const res = await fetch(req.target.url, {
      method: "POST",
      headers,
      body: text,
      // A redirect would carry the signed body to wherever the receiver points: not followed.
      redirect: "manual",
      signal: abort.signal,
    });
    // The body is not read (it may be large, and it is the receiver's business).
    await res.body?.cancel().catch(() => {});
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
    if (res.status >= 200 && res.status < 300) return sent;
    if (res.status === 429 || res.status === 408 || res.status >= 500) {
      return retry(status, retryAfterMs(res.headers.get("retry-after")));
    }
    if (res.status >= 300 && res.status < 400)
      return failed(`${status}: redirects are not followed; give the webhook its final URL`);
    return failed(`${status}: the receiver refused the notification`);
  } catch (err) {
    if (abort.signal.aborted) return retry(`no response within ${req.timeoutMs} ms`);
    return retry(`network error (${networkCode(err)})`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What made a fetch fail: the system error code behind it (ECONNREFUSED, ENOTFOUND, a TLS code),
 * else the innermost cause's message, short (the caller scrubs the URL out of it).
 */
function networkCode(err: unknown): string {
  let e: unknown = err;
  let message = "";
  for (let depth = 0; depth < 4 && e && typeof e === "object"; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z0-9_]+$/.test(code)) return code;
    const m = (e as { message?: unknown }).message;
    if (typeof m === "string" && m !== "") message = m;
    e = (e as { cause?: unknown }).cause;
  }
  return message.replace(/\s+/g, " ").slice(0, 100) || "no detail";
}

function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - Date.now()), MAX_RETRY_AFTER_MS);
}
