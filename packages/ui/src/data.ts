// The dashboard's view of the database: the state-manager's read queries plus machine versions
// compiled once per version.
import { type Machine, parseSpec } from "@stackseam/core";
import {
  type Database,
  latestMachineVersion,
  type MachineVersionInfo,
  machineVersionList,
  machineVersionSource,
} from "@stackseam/state-manager";
import type { Kysely } from "kysely";

/** The specs a dashboard can see besides the stored versions (dev's specs folder), if any. */
export type CurrentSpecs = () => Promise<Machine[]>;

/** A machine as the machines page shows it. */
export interface MachineEntry {
  name: string;
  /** The newest version the dashboard can read: the current spec, else the newest stored one. */
  machine: Machine | null;
  versions: MachineVersionInfo[];
  /** Why the machine could not be read, when it could not. */
  problem?: string;
}

// Versions are immutable: a compiled one never needs reloading. Bounded like the State Manager's.
const MAX_CACHED = 256;

export class DashboardData {
  private readonly versions = new Map<string, Machine | null>();
  readonly db: Kysely<Database>;
  private readonly specs: CurrentSpecs | undefined;

  constructor(db: Kysely<Database>, specs?: CurrentSpecs) {
    this.db = db;
    this.specs = specs;
  }

  /** The machine a stack runs: its pinned version, else (rows from before versions) the newest. */
  async machineFor(name: string, version: string): Promise<Machine | null> {
    const v = version || (await latestMachineVersion(this.db, name));
    if (!v) return (await this.current()).find((m) => m.name === name) ?? null;
    const key = `${name}@${v}`;
    if (this.versions.has(key)) return this.versions.get(key) ?? null;
    let machine: Machine | null = null;
    const row = await machineVersionSource(this.db, name, v);
    if (row)
      machine = parseSpec(row.source, { name, ...(row.origin ? { file: row.origin } : {}) }).machine ?? null;
    else machine = (await this.current()).find((m) => m.name === name && m.version === v) ?? null;
    if (this.versions.size >= MAX_CACHED) this.versions.delete(this.versions.keys().next().value as string);
    this.versions.set(key, machine);
    return machine;
  }

  private async current(): Promise<Machine[]> {
    if (!this.specs) return [];
    try {
      return await this.specs();
    } catch {
      return [];
    }
  }

  /** Every machine the database or the current specs know, with its stored versions. */
  async machines(extraNames: Iterable<string> = []): Promise<MachineEntry[]> {
    const [versions, current] = await Promise.all([machineVersionList(this.db), this.current()]);
    const names = new Set([...versions.map((v) => v.machine), ...current.map((m) => m.name), ...extraNames]);
    const entries: MachineEntry[] = [];
    for (const name of [...names].sort()) {
      const mine = versions.filter((v) => v.machine === name);
      const spec = current.find((m) => m.name === name);
      const newest = mine[0];
      const machine = spec ?? (newest ? await this.machineFor(name, newest.version) : null);
      const entry: MachineEntry = { name, machine, versions: mine };
      if (!machine)
        entry.problem = newest ? "its stored spec no longer parses" : "no stored version and no spec";
      entries.push(entry);
    }
    return entries;
  }
}
