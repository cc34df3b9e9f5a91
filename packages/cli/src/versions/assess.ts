import { diffMachines, type Machine, type MachineDiff } from "@stackseam/core";
import { openSpecs, type SpecPlace } from "../spec-access.js";
import { assessImpact, type Impact } from "./impact.js";

/** The deployed version a new spec is compared with, and where it was read. */
export interface Deployed {
  machine: Machine;
  where: string;
}

/** A new spec of one machine weighed against the deployed one and the live stacks. */
export interface Assessment {
  name: string;
  next: Machine;
  deployed: Deployed | null;
  /** Why there is no deployed version to compare with, when that is not simply "new machine". */
  deployedNote?: string;
  diff: MachineDiff | null;
  impact: Impact | null;
  /** Why the live stacks were not checked, when they were not. */
  impactNote?: string;
}

/** A database handle the CLI opens for one command (short connect timeout, one connection). */
export async function openCliDatabase(url: string) {
  const { openDatabase } = await import("@stackseam/state-manager");
  return openDatabase(url, { max: 1, applicationName: "stackseam-cli", connectionTimeoutMillis: 5_000 });
}

/**
 * Compares each new machine with the version deployed at `place` (when one is configured) and,
 * when `databaseUrl` is given, with the live stacks of that machine. A source or database that
 * cannot be read is a note on the result, never a failure: the diff stands without it.
 */
export async function assessMachines(
  machines: readonly Machine[],
  opts: { place: SpecPlace | null; databaseUrl?: string | undefined },
): Promise<Assessment[]> {
  const results: Assessment[] = machines.map((next) => ({
    name: next.name,
    next,
    deployed: null,
    diff: null,
    impact: null,
  }));
  if (opts.place) {
    const specs = await openSpecs(opts.place);
    try {
      for (const r of results) {
        try {
          const answer = await specs.lookup(r.name);
          if (answer.kind === "found") {
            r.deployed = { machine: answer.machine, where: specs.where };
            r.diff = diffMachines(answer.machine, r.next);
          } else if (answer.kind === "invalid") {
            r.deployedNote = `the deployed spec in ${specs.where} is invalid: ${answer.reason}`;
          }
        } catch (err) {
          r.deployedNote = `could not read the deployed specs in ${specs.where}: ${(err as Error).message}`;
        }
      }
    } finally {
      specs.close();
    }
  } else {
    for (const r of results) r.deployedNote = "no deployed specs configured to compare with";
  }

  if (!opts.databaseUrl) {
    for (const r of results) r.impactNote = "no database: set DATABASE_URL or start `stackseam dev`";
    return results;
  }
  const { stackGroups } = await import("@stackseam/state-manager");
  const db = await openCliDatabase(opts.databaseUrl);
  try {
    for (const r of results) {
      try {
        r.impact = assessImpact(r.next, r.diff, await stackGroups(db, r.name));
      } catch (err) {
        r.impactNote = `could not read the live stacks: ${(err as Error).message}`;
      }
    }
  } finally {
    await db.destroy();
  }
  return results;
}
