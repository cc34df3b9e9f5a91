// The parts of `stacks show` about time and data: the stack's timers and TTL, the events it keeps
// deferred, and its tasks' outputs (a sensitive one by name only, never a value).
import type { OutputValue, Stack } from "@stackseam/core";
import type { Database } from "@stackseam/state-manager";
import type { Kysely } from "kysely";
import { type Cell, cell, indent, table } from "./table.js";
import { formatTime } from "./time.js";
import { relativeTime, type TtlStatus, timerEffect, ttlStatus } from "./timer-text.js";

/** What `stacks show` reads besides the stack row: its timers and its machine's TTL for it. */
export interface StackTime {
  /** The stack's rows of the `timers` table (what the tick will fire), soonest first. */
  timers: { name: string; dueAt: string }[];
  /** The TTL as the stack's machine version defines it; null: none applies (or exempt). */
  ttl: TtlStatus | null;
  /** False when the stack's version is not stored (TTL details unknown; the timers still show). */
  machineKnown: boolean;
  /** Why the stack's machine version could not be read, when it could not. */
  machineProblem?: string;
  /** Whether the machine has a TTL anywhere (else the TTL line is left out). */
  machineHasTtl: boolean;
}

/** Reads the stack's timers and compiles its stored machine version to explain its TTL. */
export async function readStackTime(db: Kysely<Database>, stack: Stack): Promise<StackTime> {
  const { stackTimers, storedMachine } = await import("@stackseam/state-manager");
  const timers = await stackTimers(db, stack.id);
  try {
    const machine = await storedMachine(db, stack.machine, stack.version);
    return {
      timers,
      ttl: machine ? ttlStatus(machine, stack) : null,
      machineKnown: machine !== null,
      machineHasTtl:
        machine === null ||
        machine.spec.ttl !== undefined ||
        [...machine.states.values()].some((st) => st.ttl),
    };
  } catch (err) {
    return {
      timers,
      ttl: null,
      machineKnown: false,
      machineProblem: (err as Error).message,
      machineHasTtl: true,
    };
  }
}

/** The value of an output as one line: strings as they are, anything else as JSON. */
export function outputText(value: OutputValue): string {
  if (value.sensitive) return "(sensitive)";
  return typeof value.value === "string" ? value.value : JSON.stringify(value.value);
}

/** The TTL line(s): when it fires and why, the per-stack override, the warning. */
function ttlLines(stack: Stack, time: StackTime | undefined, now: Date, local: boolean): string[] {
  const override = stack.ttl;
  if (override && "exempt" in override)
    return ["TTL       exempt: this stack never expires (EXTEND_TTL never)"];
  if (!time) return [];
  const ttl = time.ttl;
  if (!ttl) {
    if (!time.machineKnown && time.timers.some((t) => t.name === "ttl"))
      return [
        `TTL       see the ttl timer (${time.machineProblem ? `the stack's machine version could not be read: ${time.machineProblem}` : "the stack's machine version is not stored here"})`,
      ];
    return time.machineHasTtl ? ["TTL       (none in this state)"] : [];
  }
  const at = (iso: string) => `${relativeTime(iso, now)} (${formatTime(iso, { local })})`;
  const lines = [
    `TTL       ${ttl.event} ${ttl.fired ? "sent (it fired)" : at(ttl.dueAt)}`,
    `          why: ${ttl.why}, by the ${ttl.from === "state" ? "state's" : "machine's"} ttl`,
  ];
  if (ttl.warnAt && !ttl.fired) lines.push(`          warning ${ttl.warned ? "sent" : at(ttl.warnAt)}`);
  // An extension earlier than the machine's own due time changes nothing: say so rather than hide it.
  if (override && "until" in override && !ttl.why.includes("EXTEND_TTL"))
    lines.push(
      `          EXTEND_TTL kept it until ${formatTime(override.until, { local })}, earlier than this: no effect`,
    );
  return lines;
}

/**
 * The time and data sections of `stacks show`: TTL, timers, deferred events and outputs. Without
 * `time` (a live watch reads only the stack), what the stack row holds.
 */
export function renderStackTime(
  stack: Stack,
  time: StackTime | undefined,
  opts: { local: boolean; now?: Date },
): string {
  const now = opts.now ?? new Date();
  const when = (iso: string) => formatTime(iso, { local: opts.local });
  let out = "";
  const ttl = ttlLines(stack, time, now, opts.local);
  if (ttl.length > 0) out += `\n${ttl.join("\n")}\n`;
  if (time) {
    if (time.timers.length === 0) out += "\nTimers    (none pending)\n";
    else {
      out += "\nTimers\n";
      out += indent(
        table(
          ["timer", "due", "in", "fires"],
          time.timers.map((t) => [
            t.name,
            when(t.dueAt),
            relativeTime(t.dueAt, now),
            timerEffect(t.name, time.ttl?.event),
          ]),
        ),
      );
    }
  }
  const deferred = stack.deferred ?? [];
  if (deferred.length > 0) {
    out += `\nDeferred  ${deferred.length} event${deferred.length === 1 ? "" : "s"}, offered again at the next state entry (oldest first)\n`;
    out += indent(
      table(
        ["event", "since", "metadata", "key"],
        deferred.map((d) => [
          d.name,
          when(d.at),
          d.metadata ? cell(Object.keys(d.metadata).join(", "), 60) : "",
          cell(d.key, 60),
        ]),
      ),
    );
  }
  const outputs = Object.entries(stack.outputs ?? {}).flatMap(([task, byName]) =>
    Object.entries(byName).map(([name, value]) => ({ task, name, value })),
  );
  if (outputs.length === 0) out += "\nOutputs   (none)\n";
  else {
    out += "\nOutputs\n";
    out += indent(
      table(
        ["task", "name", "value"],
        outputs.map((o): Cell[] => [
          o.task,
          o.name,
          o.value.sensitive ? { text: "(sensitive)", style: "dim" } : cell(outputText(o.value), 100),
        ]),
      ),
    );
  }
  return out;
}

/** The fields `stacks show --json` adds to the stack: its timers and its TTL as the machine defines it. */
export function stackTimeJson(time: StackTime): Record<string, unknown> {
  return { timers: time.timers, ttlStatus: time.ttl };
}
