import { styleText } from "node:util";
import { failureSummary, isReportEvent, printable } from "@stackseam/core";

type Style = Parameters<typeof styleText>[0];

/** A structured log record from one of the Lambdas (Powertools JSON, as in CloudWatch). */
export type LogRecord = Record<string, unknown>;

/** What the live log tracks per stack to say how long a state took. */
interface StateEntry {
  state: string;
  since: number;
  tasks: number;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A failure or reason on one line: its first `Error:` line when it has one (Terraform warns first). */
function firstLine(text: string, max = 240): string {
  return failureSummary(text, { max });
}

// Log records carry text from events and tools: printed, it must not reorder or hide the terminal.
// Line breaks stay, for `firstLine` to find the line that matters.
const str = (v: unknown): string | null => (typeof v === "string" ? printable(v, { multiline: true }) : null);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").map((x) => printable(x)) : [];

/**
 * The terminal side of `stackseam dev`: one readable line per transition, task start and finish,
 * refusal and problem, derived from the Lambdas' structured logs (which go to dev.log in full).
 */
export class LiveLog {
  readonly #write: (text: string) => void;
  readonly #states = new Map<string, StateEntry>();
  /** How long a failed dispatch ran (from the Task Satisfier's log), until its report arrives. */
  readonly #durations = new Map<string, string>();
  readonly #reported = new Set<string>();
  #width = 10;

  constructor(write: (text: string) => void = (t) => process.stdout.write(t)) {
    this.#write = write;
  }

  #style(style: Style, text: string): string {
    return styleText(style, text, { stream: process.stdout });
  }

  #emit(stackId: string | null, text: string): void {
    const time = new Date().toISOString().slice(11, 23);
    if (stackId && stackId.length > this.#width) this.#width = Math.min(stackId.length, 32);
    const who = stackId === null ? "" : `${this.#style("bold", stackId.padEnd(this.#width))}  `;
    this.#write(`${this.#style("dim", time)}  ${who}${text}\n`);
  }

  /** A line that is not about a stack (startup, reloads, shutdown). */
  info(text: string): void {
    this.#emit(null, text);
  }

  warn(text: string): void {
    this.#emit(null, this.#style("yellow", text));
  }

  error(text: string): void {
    this.#emit(null, this.#style("red", text));
  }

  /** Turns the records worth a human's attention into lines; the rest stay in dev.log only. */
  lambdaLog(record: LogRecord): void {
    const message = str(record.message) ?? "";
    const stackId = str(record.stackId);
    switch (message) {
      case "event applied":
      case "event refused":
      case "event ignored":
        this.#event(record, message.slice("event ".length));
        return;
      case "task started": {
        const attempt =
          typeof record.attempt === "number" && record.attempt > 1 ? `, attempt ${record.attempt}` : "";
        const task = str(record.task) ?? "?";
        this.#emit(
          stackId,
          `${this.#style("cyan", `▸ ${task}`)}${this.#style("dim", ` (${str(record.executor) ?? "task"}${attempt})`)}`,
        );
        return;
      }
      case "task completed":
        this.#emit(stackId, `${this.#style("green", `✓ ${str(record.task) ?? "?"}`)}  ${this.#took(record)}`);
        return;
      case "timer fired":
        this.#timer(record);
        return;
      case "schedule fired": {
        const occurrence = str(record.occurrence);
        this.#emit(
          null,
          `${this.#style("magenta", `⏰ schedule ${str(record.machine) ?? "?"}/${str(record.schedule) ?? "?"}`)} fired${occurrence ? this.#style("dim", ` (occurrence ${occurrence})`) : ""}`,
        );
        return;
      }
      case "task failed": {
        // The log record holds only the description's start (Terraform's warnings, usually): the
        // line is printed when the report, with the whole description, reaches the event queue.
        const token = str(record.token);
        if (token !== null) this.#remember(token, this.#took(record));
        else
          this.#emit(stackId, `${this.#style("red", `✗ ${str(record.task) ?? "?"}`)}  ${this.#took(record)}`);
        return;
      }
    }
    if (record.level === "ERROR" || record.level === "CRITICAL") {
      const err = record.error as { message?: unknown } | undefined;
      const detail = str(err?.message) ?? str(record.reason);
      this.#emit(stackId, this.#style("red", `${message}${detail ? `: ${firstLine(detail)}` : ""}`));
    }
  }

  /**
   * Reports as the event queue delivers them (before the State Manager handles them): a
   * TASK_ERROR prints its task's failure line, with the first `Error:` line of the whole
   * description, once per dispatch however often it is delivered.
   */
  reports(bodies: readonly string[]): void {
    for (const body of bodies) {
      let report: LogRecord;
      try {
        report = JSON.parse(body) as LogRecord;
      } catch {
        continue;
      }
      const token = str(report.token);
      if (report.event !== "TASK_ERROR" || token === null || this.#reported.has(token)) continue;
      if (this.#reported.size > 10_000) this.#reported.clear();
      this.#reported.add(token);
      const took = this.#durations.get(token) ?? "";
      this.#durations.delete(token);
      const why = str(report.description);
      this.#emit(
        str(report.stackId),
        `${this.#style("red", `✗ ${str(report.task) ?? "?"}`)}${took ? `  ${took}` : ""}${why ? `: ${firstLine(why)}` : ""}`,
      );
    }
  }

  /** A timer the tick fired: which, the move it made (when the stack's state is known), the engine's note. */
  #timer(record: LogRecord): void {
    const stackId = str(record.stackId) ?? "(no stack id)";
    const to = str(record.to);
    const note = str(record.note);
    const previous = this.#states.get(stackId);
    let moved = "";
    if (to !== null && previous && previous.state !== to) {
      moved = `  ${this.#style("bold", `${previous.state} → ${to}`)}`;
      this.#states.set(stackId, { state: to, since: Date.now(), tasks: 0 });
    }
    this.#emit(
      stackId,
      `${this.#style("magenta", `⏱ ${str(record.timer) ?? "?"}`)}${moved}${note ? `  ${this.#style("dim", firstLine(note))}` : ""}`,
    );
  }

  #remember(token: string, took: string): void {
    if (this.#durations.size > 10_000) this.#durations.clear();
    this.#durations.set(token, took);
  }

  #took(record: LogRecord): string {
    return typeof record.durationMs === "number" ? seconds(record.durationMs) : "";
  }

  #event(record: LogRecord, outcome: string): void {
    const stackId = str(record.stackId) ?? "(no stack id)";
    const event = str(record.event) ?? "?";
    const from = str(record.from);
    const reason = str(record.reason);
    if (outcome === "refused") {
      this.#emit(
        stackId,
        `${this.#style("yellow", `refused ${event}`)} in ${from ?? "(new stack)"}: ${reason === null ? "" : firstLine(reason, 400)}`,
      );
      return;
    }
    if (outcome === "ignored") {
      const why = record.duplicate === true ? "duplicate delivery" : (reason ?? "");
      this.#emit(stackId, this.#style("dim", `ignored ${event}: ${firstLine(why)}`));
      return;
    }
    const at = Date.parse(str(record.timestamp) ?? "") || Date.now();
    const path = strings(record.path);
    const dispatched = strings(record.dispatched);
    const removed = record.removed === true;
    if (path.length === 0 && !removed) {
      // A report that does not finish its state is already told by the task line.
      if (isReportEvent(event)) return;
      const what = event.startsWith("RETRY_")
        ? dispatched.length === 0
          ? ": nothing to re-send"
          : `: re-sent ${dispatched.join(", ")}`
        : "";
      // The engine's note says what a stay did (a deferral, a TTL change); it may start with the event.
      if (!what && reason !== null) {
        const note = firstLine(reason);
        this.#emit(stackId, note.startsWith(`${event} `) ? note : `${event} in ${from ?? "?"}: ${note}`);
        return;
      }
      this.#emit(stackId, `${event} in ${from ?? "?"}${what}`);
      return;
    }
    // A new stack starts in INIT before its first event moves it.
    const fromState = from ?? "INIT";
    const previous = this.#states.get(stackId);
    let stayed = "";
    if (previous && previous.state === fromState) {
      const took = seconds(at - previous.since);
      stayed =
        previous.tasks > 0 ? `  (${plural(previous.tasks, "task")}, ${took})` : `  (${took} in ${fromState})`;
    }
    const hops = [fromState, ...path].join(" → ");
    const trigger = isReportEvent(event) ? "" : this.#style("dim", `  on ${event}`);
    if (removed) {
      this.#states.delete(stackId);
      this.#emit(stackId, `${this.#style("magenta", `${hops} → removed`)}${stayed}${trigger}`);
      return;
    }
    this.#states.set(stackId, {
      state: path.at(-1) ?? str(record.to) ?? "?",
      since: at,
      tasks: dispatched.length,
    });
    this.#emit(stackId, `${this.#style("bold", hops)}${stayed}${trigger}`);
  }
}
