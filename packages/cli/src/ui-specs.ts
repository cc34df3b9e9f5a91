// The current specs for the dashboard's machines page: the same places `send` checks against.
import type { Machine } from "@stackseam/core";
import type { DevInstance } from "./connection.js";
import { findSpecs, openSpecs } from "./spec-access.js";

// Specs change rarely; the machines page must not re-read a folder or a bucket on every request.
const FRESH_MS = 3_000;

/** Reads the compiled current specs (dev's folder, --specs, MACHINE_SPEC_DIR or S3), or null when none is configured. */
export function currentSpecs(
  specsFlag: string | undefined,
  dev: DevInstance | null | undefined,
): (() => Promise<Machine[]>) | null {
  const place = findSpecs({ specsFlag, dev });
  if (!place) return null;
  let cached: { at: number; machines: Promise<Machine[]> } | null = null;
  const read = async (): Promise<Machine[]> => {
    const catalogue = await openSpecs(place);
    try {
      const machines: Machine[] = [];
      for (const name of await catalogue.names()) {
        const answer = await catalogue.lookup(name);
        if (answer.kind === "found") machines.push(answer.machine);
      }
      return machines;
    } finally {
      catalogue.close();
    }
  };
  return () => {
    if (!cached || Date.now() - cached.at > FRESH_MS) cached = { at: Date.now(), machines: read() };
    return cached.machines;
  };
}
