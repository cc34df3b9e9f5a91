import { isCarriable } from "@stackseam/core";

/** The best-effort event name of a message that failed validation, for history and logs. */
export function rawEventName(body: string): string | null {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === "object") {
      const o = parsed as { event?: unknown; action?: unknown };
      const name = typeof o.event === "string" ? o.event : typeof o.action === "string" ? o.action : null;
      // History must be able to store it: an unstorable name is shown as missing.
      return name === null || !isCarriable(name) ? null : name.slice(0, 64);
    }
  } catch {
    // Not JSON: there is no name to show.
  }
  return null;
}
