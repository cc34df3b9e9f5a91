import { didYouMean, parseSpec, type Stack } from "@stackseam/core";
import { type Database, storedVersion, storedVersions } from "@stackseam/state-manager";
import type { Kysely } from "kysely";

/** `--state` names a state that no version of the stack's machine has: the wait could never end. */
export class UnknownStateError extends Error {
  override readonly name = "UnknownStateError";
}

/**
 * Throws UnknownStateError when `want` is a state of neither the version the stack runs nor the
 * machine's newest stored version (it may be upgraded to that one). Says nothing when the versions
 * cannot be read (a database from before machine versions): the wait then simply waits.
 */
export async function checkWantedState(db: Kysely<Database>, stack: Stack, want: string): Promise<void> {
  const newest = (await storedVersions(db, stack.machine)).at(-1)?.version;
  const versions = [...new Set([stack.version, newest].filter((v): v is string => typeof v === "string"))];
  const states = new Set<string>();
  for (const version of versions) {
    const stored = await storedVersion(db, stack.machine, version);
    const machine = stored ? parseSpec(stored.source, { name: stack.machine }).machine : null;
    if (!machine) return;
    for (const name of machine.states.keys()) states.add(name);
  }
  if (states.size === 0 || states.has(want)) return;
  throw new UnknownStateError(
    `--state ${want}: machine ${stack.machine} has no such state${didYouMean(want, states)} (states: ${[...states].join(", ")})`,
  );
}
