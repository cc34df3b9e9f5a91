// Repository + cache: the machine versions stacks run. A stack's events are decided by the version
// it records, loaded from this container's cache, the current spec, or the machine_versions table.
import { type Machine, parseSpec } from "@stackseam/core";
import type { Kysely } from "kysely";
import { invalidSpecReason, type MachineLookup, type MachineSource } from "./machine-source.js";
import type { Database } from "./schema.js";

/** The versions a State Manager container knows, in front of its MachineSource and Postgres. */
export interface MachineVersions {
  /**
   * The machine for a stack row without any I/O: its pinned version, or (a row from before
   * versions, `version` null) the current one. Undefined: load it first (outside the row lock).
   */
  peek(machine: string, version: string | null): MachineLookup | undefined;
  /** Loads what `peek` missed: from the current spec when it is that version, else the versions table. */
  load(machine: string, version: string | null): Promise<void>;
  /** Whether this version is known to be stored in machine_versions. */
  isStored(machine: Machine): boolean;
  /** Stores a version's text the first time this container uses it (once per container and version). */
  remember(machine: Machine): Promise<void>;
}

// Enough for every version of every machine a container sees in practice; the oldest goes first.
const MAX_CACHED = 256;
const STORED_FOR_MS = 10 * 60_000;

/** A version cache over `machines` (the current specs) and the machine_versions table. */
export function machineVersions(db: Kysely<Database>, machines: MachineSource): MachineVersions {
  const cache = new Map<string, MachineLookup>();
  // Version → when this container last made sure its row exists. Rows of unused versions may be
  // pruned (`stackseam specs prune`), so the check is renewed now and then: a pruned version that
  // becomes current again is stored again before new stacks pin it.
  const stored = new Map<string, number>();
  const isFresh = (key: string) => Date.now() - (stored.get(key) ?? Number.NEGATIVE_INFINITY) < STORED_FOR_MS;
  const keyOf = (machine: string, version: string) => `${machine}@${version}`;

  function keep(key: string, lookup: MachineLookup): void {
    cache.delete(key);
    cache.set(key, lookup);
    if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
  }

  return {
    peek(machine, version) {
      if (version === null) return machines.cached(machine);
      const hit = cache.get(keyOf(machine, version));
      if (hit) return hit;
      const current = machines.cached(machine);
      return current?.ok && current.machine.version === version ? current : undefined;
    },
    async load(machine, version) {
      const current = await machines.get(machine);
      if (version === null) return;
      const key = keyOf(machine, version);
      if (current.ok && current.machine.version === version) return keep(key, current);
      const row = await db
        .selectFrom("machine_versions")
        .select(["source", "origin"])
        .where("machine", "=", machine)
        .where("version", "=", version)
        .executeTakeFirst();
      if (!row) {
        return keep(key, {
          ok: false,
          reason: `machine ${machine} version ${version} is not in the machine_versions table, so stacks pinned to it cannot be decided; upgrade them (stackseam stacks upgrade)`,
          diagnostics: [],
        });
      }
      const parsed = parseSpec(row.source, { name: machine, ...(row.origin ? { file: row.origin } : {}) });
      if (!parsed.machine)
        return keep(key, {
          ok: false,
          reason: invalidSpecReason(machine, parsed.diagnostics),
          diagnostics: parsed.diagnostics,
        });
      if (parsed.machine.version !== version) {
        return keep(key, {
          ok: false,
          reason: `machine ${machine} version ${version} reads as version ${parsed.machine.version} with this release; upgrade its stacks`,
          diagnostics: [],
        });
      }
      stored.set(key, Date.now());
      keep(key, { ok: true, machine: parsed.machine });
    },
    isStored(machine) {
      return isFresh(keyOf(machine.name, machine.version));
    },
    async remember(machine) {
      const key = keyOf(machine.name, machine.version);
      if (isFresh(key)) return;
      await db
        .insertInto("machine_versions")
        .values({
          machine: machine.name,
          version: machine.version,
          source: machine.source ?? JSON.stringify(machine.spec),
          origin: machine.file ?? null,
        })
        .onConflict((oc) => oc.columns(["machine", "version"]).doNothing())
        .execute();
      stored.set(key, Date.now());
      keep(key, { ok: true, machine });
    },
  };
}
