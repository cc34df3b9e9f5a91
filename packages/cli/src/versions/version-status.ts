import type { Stack } from "@stackseam/core";
import type { Database } from "@stackseam/state-manager";
import type { Kysely } from "kysely";

/** Where a stack's version stands among the versions of its machine that have been used. */
export interface VersionStatus {
  /** The newest version used (by first use) when it is not the stack's; null when the stack runs it. */
  newer: { version: string; firstUsedAt: string } | null;
}

/** Whether a newer version of the stack's machine has been used than the one it runs. */
export async function versionStatus(db: Kysely<Database>, stack: Stack): Promise<VersionStatus> {
  const { storedVersions } = await import("@stackseam/state-manager");
  const stored = await storedVersions(db, stack.machine);
  const newest = stored.at(-1);
  const own = stored.find((r) => r.version === stack.version);
  if (!newest || newest.version === stack.version) return { newer: null };
  // A stack on a version first used after the newest row cannot be behind it (rows are by first use).
  if (own && own.firstUsedAt >= newest.firstUsedAt) return { newer: null };
  return { newer: { version: newest.version, firstUsedAt: newest.firstUsedAt } };
}

/** The `Version` line of `stacks show`. */
export function versionLine(stack: Stack, status: VersionStatus | null): string {
  if (stack.version === "") return "Version   (none yet: pinned to the current version by its next event)";
  if (!status) return `Version   ${stack.version}`;
  if (!status.newer) return `Version   ${stack.version} (the newest in use)`;
  return `Version   ${stack.version} (newer: ${status.newer.version}, first used ${status.newer.firstUsedAt}; see stackseam stacks upgrade ${stack.id} --dry-run)`;
}
