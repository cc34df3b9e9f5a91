import { failureSummary, failureText, printable } from "@stackseam/core";
import { paint } from "../colour.js";
import { formatTime } from "../time.js";
import type { ProgressLine } from "./progress.js";
import { humanDuration } from "./timeout.js";
import { WAIT_EXIT, type WaitResult } from "./wait.js";

/** A progress line as stderr shows it: the row's time, then what happened. */
export function progressText(line: ProgressLine, stream: NodeJS.WriteStream = process.stderr): string {
  const text = line.style ? paint(line.style, line.text, stream) : line.text;
  return `${paint("dim", formatTime(line.at), stream)}  ${text}\n`;
}

/** The outcome of a wait for a person (stdout): one line, a failure's first `Error:` line or all of it. */
export function resultText(r: WaitResult, opts: { full?: boolean } = {}): string {
  const id = printable(r.stackId);
  const took = humanDuration(r.waitedMs);
  switch (r.result) {
    case "settled":
      return r.stack ? `${id} settled in ${r.stack.state} (${took})\n` : `${id} removed (${took})\n`;
    case "failed": {
      const state = r.stack?.state ?? "?";
      let out = "";
      for (const t of r.failed) {
        const what = t.description ?? "(no description)";
        out += `${id}: task ${printable(t.name)} failed in ${state} (attempt ${t.attempt}): ${failureSummary(what)}\n`;
        if (opts.full)
          out += `${failureText(what, { full: true })
            .split("\n")
            .map((l) => `    ${l}`)
            .join("\n")}\n`;
      }
      return `${out}  retry with: stackseam send ${id} RETRY_FAILED_TASKS\n`;
    }
    case "removed": {
      const h = r.removal;
      const how = h
        ? `: ${printable(h.from ?? "?")} → removed on ${printable(h.event ?? "?")} at ${formatTime(h.at)}`
        : "";
      return `${id} was removed${how}\n`;
    }
    case "refused": {
      const e = r.event;
      return `${id}: ${printable(e?.event ?? "the event")} (event ${printable(e?.eventKey ?? "?")}) was refused in ${printable(e?.from ?? "(no stack)")}: ${printable(e?.reason ?? "no reason recorded")}\n`;
    }
    case "timeout":
      return `${id}: timed out after ${took}: ${r.waitingFor ?? "not settled"}\n`;
    case "interrupted":
      return `${id}: interrupted after ${took}: ${r.waitingFor ?? "not settled"}\n`;
  }
}

/** The outcome as `--json` prints it. */
export function resultJson(r: WaitResult): Record<string, unknown> {
  return {
    stackId: r.stackId,
    result: r.result,
    exitCode: WAIT_EXIT[r.result],
    state: r.stack?.state ?? null,
    stack: r.stack,
    failed: r.failed.map((t) => ({ task: t.name, attempt: t.attempt, description: t.description ?? null })),
    event: r.event
      ? { key: r.event.eventKey, event: r.event.event, outcome: r.event.outcome, reason: r.event.reason }
      : null,
    removal: r.removal,
    waitingFor: r.waitingFor,
    waitedMs: r.waitedMs,
  };
}
