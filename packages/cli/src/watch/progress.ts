import { failureSummary, printable, type Stack } from "@stackseam/core";
import type { HistoryEntry } from "@stackseam/state-manager";
import type { Style } from "../colour.js";

/** One progress line: text, and how to colour it on a terminal. */
export interface ProgressLine {
  at: string;
  text: string;
  style?: Style;
}

interface Dispatched {
  task: string;
  token: string;
  attempt: number;
}

function dispatchedOf(h: HistoryEntry): Dispatched[] {
  const list = h.detail?.dispatched;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (d): d is Dispatched =>
      typeof d === "object" &&
      d !== null &&
      typeof (d as Dispatched).task === "string" &&
      typeof (d as Dispatched).token === "string" &&
      typeof (d as Dispatched).attempt === "number",
  );
}

const text = (s: string | null | undefined): string => printable(s ?? "?");

/**
 * Turns history rows into one line per thing a person waiting cares about: a state change, a task
 * started, finished or failed (with its first `Error:` line), a refusal, a removal. Remembers each
 * dispatch's attempt so that a report's line can say which attempt it was.
 */
export class ProgressLines {
  readonly #attempts = new Map<string, number>();

  /** Learns the attempts of the tasks dispatched before following started. */
  know(stack: Stack | null): void {
    for (const t of stack?.tasks ?? []) this.#attempts.set(t.token, t.attempt);
  }

  /** Lines for one row; `stack` (read after it) tells whether a failed task will be retried. */
  lines(h: HistoryEntry, stack: Stack | null): ProgressLine[] {
    if (h.duplicate) return [];
    const at = h.at;
    const event = text(h.event);
    if (h.outcome === "refused")
      return [
        { at, text: `refused ${event} in ${h.from ?? "(no stack)"}: ${text(h.reason)}`, style: "yellow" },
      ];
    if (h.outcome === "ignored") return [{ at, text: `ignored ${event}: ${text(h.reason)}`, style: "dim" }];

    const out: ProgressLine[] = [];
    const attempt = h.token ? this.#attempts.get(h.token) : undefined;
    const which = attempt !== undefined ? ` (attempt ${attempt})` : "";
    if (h.event === "TASK_COMPLETED") out.push({ at, text: `✓ ${text(h.task)}${which}`, style: "green" });
    if (h.event === "TASK_ERROR") {
      const description = typeof h.detail?.description === "string" ? h.detail.description : "";
      // The decision records when the retry is due; an older State Manager's row does not.
      const task = stack?.tasks.find((t) => t.name === h.task && t.token === h.token);
      const retryAt = typeof h.detail?.retryAt === "string" ? h.detail.retryAt : task?.retryAt;
      const retry = retryAt ? `; retry at ${retryAt}` : "";
      out.push({
        at,
        text: `✗ ${text(h.task)}${which} failed${description ? `: ${failureSummary(description)}` : ""}${retry}`,
        style: "red",
      });
    }
    const removed = h.detail?.removed === true;
    if (h.path.length > 0) {
      const path = [h.from ?? "INIT", ...h.path].map(text).join(" → ");
      out.push({ at, text: `${path}${removed ? " → removed" : ""}  on ${event}`, style: "bold" });
    } else if (removed) {
      out.push({ at, text: `${text(h.from)} → removed  on ${event}`, style: "bold" });
    } else if (h.event !== "TASK_COMPLETED" && h.event !== "TASK_ERROR" && dispatchedOf(h).length === 0) {
      out.push({ at, text: `${event} applied in ${text(h.from)}` });
    }
    for (const d of dispatchedOf(h)) {
      this.#attempts.set(d.token, d.attempt);
      out.push({ at, text: `▸ ${text(d.task)} started (attempt ${d.attempt})`, style: "cyan" });
    }
    return out;
  }
}
