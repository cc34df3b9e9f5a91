import type { Metadata, MetadataPatch } from "./model.js";

/** The most keys a stack's merged metadata may have (the metadata schema's maxProperties). */
export const MAX_METADATA_KEYS = 100;
/**
 * The most a stack's merged metadata may take, serialised: what is left of the SQS limit (256 KiB)
 * for a task's config and inputs is the other half.
 */
export const MAX_METADATA_BYTES = 131_072;

const utf8 = new TextEncoder();

/** `metadata` with `patch` merged in: a value sets its key, null removes it. */
export function mergeMetadata(metadata: Metadata, patch: MetadataPatch | undefined): Metadata {
  if (!patch) return { ...metadata };
  const merged: Metadata = { ...metadata };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** The size limits a stack's metadata is held to, measured. */
export function metadataSize(metadata: Metadata): { keys: number; bytes: number } {
  return { keys: Object.keys(metadata).length, bytes: utf8.encode(JSON.stringify(metadata)).length };
}

/**
 * Why merging `patch` would take the stack's metadata past a limit, or undefined. A stack already
 * past one (written before the limits) may still take events that do not make it bigger.
 */
export function metadataGrowthProblem(
  metadata: Metadata,
  patch: MetadataPatch | undefined,
): string | undefined {
  if (!patch || Object.keys(patch).length === 0) return undefined;
  const merged = mergeMetadata(metadata, patch);
  const keys = Object.keys(merged).length;
  if (keys > MAX_METADATA_KEYS && keys > Object.keys(metadata).length) {
    return `the stack's metadata would have ${keys} keys, over the limit of ${MAX_METADATA_KEYS}; remove keys by sending them with null`;
  }
  const text = JSON.stringify(merged);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short enough, it cannot be over the limit.
  if (text.length * 3 <= MAX_METADATA_BYTES) return undefined;
  const bytes = utf8.encode(text).length;
  if (bytes > MAX_METADATA_BYTES && bytes > metadataSize(metadata).bytes) {
    return `the stack's metadata would take ${bytes} bytes, over its limit of ${MAX_METADATA_BYTES}: its task messages would go over the SQS limit of 262144 bytes; send less, or remove keys by sending them with null`;
  }
  return undefined;
}
