// How `stacks history` names the rows the engine writes by itself: timers the tick fired, scheduled
// events, deferred events applied later and automatic upgrades. Their event keys say which.
import type { HistoryEntry } from "@stackseam/state-manager";

// timer:<name>:<due time>; the due time (ISO, with colons) is the last part.
const TIMER_KEY = /^timer:(.+):(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)$/;

/** The timer a TIMER row fired (`ttl`, `timeout:apply`…) and its due time, from its event key. */
export function timerOfKey(key: string): { name: string; dueAt: string } | null {
  const m = TIMER_KEY.exec(key);
  return m ? { name: m[1]!, dueAt: m[2]! } : null;
}

/** The schedule a scheduled event came from (`schedule:<machine>:<name>:<occurrence>`). */
export function scheduleOfKey(key: string): string | null {
  if (!key.startsWith("schedule:")) return null;
  const parts = key.split(":");
  return parts.length >= 4 ? (parts[2] ?? null) : null;
}

/** The event column of a history row: `TIMER ttl`, `UPDATE (deferred)`, `FREEZE (schedule x)`… */
export function historyEventLabel(h: Pick<HistoryEntry, "event" | "eventKey">): string {
  const event = h.event ?? "?";
  if (event === "TIMER") {
    const timer = timerOfKey(h.eventKey);
    return timer ? `TIMER ${timer.name}` : event;
  }
  if (h.eventKey.endsWith("#deferred")) return `${event} (deferred)`;
  if (h.eventKey.endsWith("#upgrade")) return `${event} (on state entry)`;
  const schedule = scheduleOfKey(h.eventKey);
  if (schedule) return `${event} (schedule ${schedule})`;
  return event;
}

/** What a row adds after its note: the outputs a report changed, when a deferred event was kept. */
export function historyExtras(h: Pick<HistoryEntry, "detail" | "outcome">): string {
  const detail = h.detail ?? {};
  const extras: string[] = [];
  if (Array.isArray(detail.outputsChanged) && detail.outputsChanged.length > 0)
    extras.push(`outputs changed: ${detail.outputsChanged.join(", ")}`);
  if (typeof detail.outputsProblem === "string") extras.push(`outputs not kept: ${detail.outputsProblem}`);
  if (Array.isArray(detail.notDispatched) && detail.notDispatched.length > 0)
    extras.push(`not dispatched: ${detail.notDispatched.map(describeNotDispatched).join("; ")}`);
  return extras.join("; ");
}

function describeNotDispatched(entry: unknown): string {
  if (typeof entry === "string") return entry;
  if (entry && typeof entry === "object") {
    const e = entry as { task?: unknown; reason?: unknown; description?: unknown };
    const why =
      typeof e.reason === "string" ? e.reason : typeof e.description === "string" ? e.description : "";
    return `${typeof e.task === "string" ? e.task : "?"}${why ? ` (${why})` : ""}`;
  }
  return String(entry);
}
