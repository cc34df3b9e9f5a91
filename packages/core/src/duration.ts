// Durations as specs write them: whole numbers with units, largest first (90s, 20m, 2h, 3d, 1h30m).

import { DURATION } from "./generated/patterns.js";
import { isoTime } from "./iso-time.js";

const UNITS = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1],
] as const;

// Durations come from specs, a few texts parsed again for every event: they are remembered, a
// bounded number of them (an event may carry one of its own).
const remembered = new Map<string, number | undefined>();
const REMEMBERED_MAX = 256;

/** Milliseconds in a duration like `1h30m`, or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  if (remembered.has(text)) return remembered.get(text);
  const ms = parse(text);
  if (remembered.size >= REMEMBERED_MAX) remembered.clear();
  remembered.set(text, ms);
  return ms;
}

function parse(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  let ms = 0;
  // The schema's groups, largest unit first, each like "30m": the number is what precedes the unit.
  UNITS.forEach(([, size], i) => {
    const group = match[i + 1];
    if (group !== undefined) ms += Number.parseInt(group, 10) * size;
  });
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The duration as a spec would write it, largest units first (`1h30m`; `0s` for nothing). */
export function formatDuration(ms: number): string {
  let left = Math.max(0, Math.round(ms));
  let out = "";
  for (const [unit, size] of UNITS) {
    const n = Math.floor(left / size);
    if (n > 0) {
      out += `${n}${unit}`;
      left -= n * size;
    }
  }
  return out === "" ? "0s" : out;
}

/** `at` moved by `ms`, as an ISO timestamp. */
export function addMs(at: Date | string, ms: number): string {
  return isoTime(new Date(at).getTime() + ms);
}
