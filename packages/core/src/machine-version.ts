import type { MachineSpec } from "./generated/machine-spec.js";
import { sha256Hex } from "./sha256.js";

/** How many hex digits of the hash name a version: short enough to read, long enough never to collide in practice. */
const VERSION_DIGITS = 16;

/**
 * The spec as the engine reads it, as canonical JSON: anchors and merge keys resolved, `x-` keys
 * (which only hold anchors) dropped, object keys sorted. Comments, formatting and key order do not
 * change it; anything that changes what a stack does does.
 */
export function canonicalSpec(spec: MachineSpec): string {
  const { ...rest } = spec as unknown as Record<string, unknown>;
  for (const key of Object.keys(rest)) if (key.startsWith("x-")) delete rest[key];
  return canonicalJson(rest);
}

/** The content version of a spec: the first 16 hex digits of the SHA-256 of its canonical JSON. */
export function machineVersion(spec: MachineSpec): string {
  return sha256Hex(canonicalSpec(spec)).slice(0, VERSION_DIGITS);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
