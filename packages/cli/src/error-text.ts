import { printable } from "@stackseam/core";

/**
 * An error for a person: its message, then each cause's message ("invoking Lambda function x
 * failed transiently: Region is missing"), so the reason is never hidden behind a wrapper.
 */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (
    let e: unknown = err;
    e !== undefined && e !== null && !seen.has(e);
    e = (e as { cause?: unknown }).cause
  ) {
    seen.add(e);
    const message = e instanceof Error ? e.message || e.name : String(e);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    if (!(e instanceof Error)) break;
  }
  return printable(parts.join(": "));
}
