// An EventBridge target: one PutEvents entry per attempt. PutEvents answers 200 even when it did
// not take the entry, so FailedEntryCount and the entry's ErrorCode decide what happened.
import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { Notification } from "@stackseam/core";
import { type Delivery, failed, fromSdkError, retry, sent } from "./outcome.js";
import type { NotificationPayload } from "./payload.js";

export type EventBridgeTarget = NonNullable<Notification["destination"]["eventbridge"]>;

export interface EventBridgeRequest {
  target: EventBridgeTarget;
  payload: NotificationPayload;
  timeoutMs: number;
}

export const DEFAULT_EVENT_SOURCE = "stackseam";

/** The detail-type of a notification's event when the target does not set one. */
export function defaultDetailType(kind: string): string {
  return `Stackseam ${kind}`;
}

// Entry error codes that say "try later" (AWS: InternalFailure, ThrottlingException).
const TRANSIENT_ENTRY_ERROR = /internal|throttl|unavailable|timeout/i;

/** Puts one notification on the bus; never throws. */
export async function deliverEventBridge(
  client: EventBridgeClient,
  req: EventBridgeRequest,
): Promise<Delivery> {
  const p = req.payload;
  const command = new PutEventsCommand({
    Entries: [
      {
        EventBusName: req.target.bus,
        Source: req.target.source ?? DEFAULT_EVENT_SOURCE,
        DetailType: req.target.detailType ?? defaultDetailType(p.kind),
        Detail: JSON.stringify(p),
        Time: new Date(p.at),
      },
    ],
  });
  const signal = AbortSignal.timeout(req.timeoutMs);
  try {
    const out = await client.send(command, { abortSignal: signal });
    if (!out.FailedEntryCount) return sent;
    const entry = out.Entries?.[0];
    const code = entry?.ErrorCode ?? "unknown";
    const text = `PutEvents did not take the event: ${code}${entry?.ErrorMessage ? `: ${entry.ErrorMessage.slice(0, 200)}` : ""}`;
    return TRANSIENT_ENTRY_ERROR.test(code) ? retry(text) : failed(text);
  } catch (err) {
    return fromSdkError(err, req.timeoutMs, signal.aborted);
  }
}
