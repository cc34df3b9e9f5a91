// How a webhook receiver knows a request came from this Stackseam and is fresh: HMAC-SHA256 with
// the shared secret over "<unix seconds>.<raw body>", sent as `Stackseam-Signature: t=<s>,v1=<hex>`.
// The timestamp is signed too, so a receiver that rejects old timestamps rejects replays.
import { createHmac } from "node:crypto";

export const SIGNATURE_HEADER = "Stackseam-Signature";
export const ID_HEADER = "Stackseam-Notification-Id";

/** The signature header's value for a body sent at `unixSeconds`. */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`, "utf8").digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}
