// `stackseam stacks outputs <id> [name]`: a stack's task outputs for scripts. One name prints the
// bare value (URL=$(stackseam stacks outputs feature-1 url)); anything that would print a wrong or
// partial value instead exits non-zero with the reason on stderr.
import type { OutputValue, Stack } from "@stackseam/core";
import { outputText } from "./stack-time.js";
import { cell, table } from "./table.js";

/** One output of a stack, with the task that reported it. */
export interface FoundOutput {
  task: string;
  name: string;
  value: OutputValue;
}

/** Every output of the stack, by task then name (as reported). */
export function allOutputs(stack: Stack): FoundOutput[] {
  return Object.entries(stack.outputs ?? {}).flatMap(([task, byName]) =>
    Object.entries(byName).map(([name, value]) => ({ task, name, value })),
  );
}

export type OutputLookup =
  | { ok: true; output: FoundOutput & { value: { value: unknown; sensitive: false } } }
  | { ok: false; reason: string };

/**
 * The output `wanted` names: `name` when one task reported it, or `task.name` (output names have
 * no dots; task names may, so the last dot splits).
 */
export function findOutput(stack: Stack, wanted: string): OutputLookup {
  const outputs = allOutputs(stack);
  const id = cell(stack.id, 200);
  const listed = () => `its outputs: ${outputs.map((o) => `${o.task}.${o.name}`).join(", ")}`;
  let matches: FoundOutput[];
  const dot = wanted.lastIndexOf(".");
  if (dot > 0) {
    const task = wanted.slice(0, dot);
    const name = wanted.slice(dot + 1);
    matches = outputs.filter((o) => o.task === task && o.name === name);
  } else {
    matches = outputs.filter((o) => o.name === wanted);
    if (matches.length > 1) {
      return {
        ok: false,
        reason: `output ${cell(wanted, 200)} is reported by ${matches.length} tasks: name one as ${matches.map((o) => `${o.task}.${o.name}`).join(" or ")}`,
      };
    }
  }
  const found = matches[0];
  if (!found)
    return {
      ok: false,
      reason:
        outputs.length === 0
          ? `stack ${id} has no outputs yet (a task reports them when it completes), so none named ${cell(wanted, 200)}`
          : `stack ${id} has no output ${cell(wanted, 200)}; ${listed()}`,
    };
  if (found.value.sensitive) {
    return {
      ok: false,
      reason: `output ${found.task}.${found.name} is sensitive: its value never leaves the task that produced it (read it where the task keeps it, e.g. \`terraform output -raw ${found.name}\` against the stack's state)`,
    };
  }
  return { ok: true, output: found as FoundOutput & { value: { value: unknown; sensitive: false } } };
}

/** What `stacks outputs <id>` prints without a name: one row per output. */
export function renderOutputs(stack: Stack): string {
  const outputs = allOutputs(stack);
  if (outputs.length === 0) return "";
  return table(
    ["task", "name", "value"],
    outputs.map((o) => [o.task, o.name, o.value.sensitive ? "(sensitive)" : cell(outputText(o.value), 200)]),
  );
}

/** The bare value for a script: a string as it is (one newline after), anything else as JSON. */
export function bareValue(value: unknown): string {
  return `${typeof value === "string" ? value : JSON.stringify(value)}\n`;
}
