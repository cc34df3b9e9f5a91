import type { OutputValue, Stack } from "./model.js";

/** The most a task's outputs may take, serialised (the report's schema says so too). */
export const MAX_OUTPUTS_BYTES = 65_536;

const utf8 = new TextEncoder();

/** The stack's outputs after `task` reported `outputs` (replacing what it reported before). */
export function withOutputs(
  stack: Stack,
  task: string,
  outputs: Record<string, OutputValue>,
): NonNullable<Stack["outputs"]> {
  return { ...(stack.outputs ?? {}), [task]: outputs };
}

/** Why a report's outputs cannot be kept, or undefined when they can. */
export function outputsProblem(outputs: Record<string, OutputValue>): string | undefined {
  const bytes = utf8.encode(JSON.stringify(outputs)).length;
  return bytes > MAX_OUTPUTS_BYTES
    ? `outputs not kept: they take ${bytes} bytes, over the limit of ${MAX_OUTPUTS_BYTES}`
    : undefined;
}

/** Names of outputs that differ between two sets (added, removed or changed), sorted. */
export function changedOutputs(
  before: Record<string, OutputValue> | undefined,
  after: Record<string, OutputValue>,
): string[] {
  const names = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  return [...names].filter((name) => JSON.stringify(before?.[name]) !== JSON.stringify(after[name])).sort();
}
