import { readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { MAX_SPEC_BYTES } from "@stackseam/core";
import { MachineSourceError } from "./errors.js";
import {
  compileEntry,
  MACHINE_NAME,
  type MachineLookup,
  type MachineSource,
  machineNameOf,
  oversizedEntry,
  type ReloadResult,
  SPEC_EXTENSIONS,
  type SpecEntry,
  unknownMachine,
} from "./machine-source.js";

export interface LocalMachineSourceOptions {
  /** The folder holding `<machine>.yml` / `<machine>.yaml` files (MACHINE_SPEC_DIR). */
  dir: string;
  /** Keep the previous valid version when an edit makes a spec invalid (default true: hot reload). */
  keepLastGood?: boolean;
  /** Called with what changed whenever a spec is (re)loaded, e.g. to print diagnostics in dev mode. */
  onReload?: (results: ReloadResult[]) => void;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/**
 * Specs from a folder. Each lookup stats the machine's file and re-reads it only when its mtime
 * or size changed, so edits take effect on the next event without a restart.
 */
export function localMachineSource(opts: LocalMachineSourceOptions): MachineSource {
  const dir = isAbsolute(opts.dir) ? opts.dir : resolve(opts.dir);
  const keepLastGood = opts.keepLastGood ?? true;
  const entries = new Map<string, SpecEntry>();

  async function statSpec(path: string): Promise<{ version: string; size: number } | null> {
    try {
      const s = await stat(path);
      return s.isFile() ? { version: `${s.mtimeMs}:${s.size}`, size: s.size } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw new MachineSourceError(`cannot read ${path}`, { cause: err });
    }
  }

  /** Brings one machine's entry up to date; returns what changed, if anything. */
  async function sync(name: string): Promise<ReloadResult | null> {
    const found: { path: string; version: string; size: number }[] = [];
    for (const ext of SPEC_EXTENSIONS) {
      const path = join(dir, `${name}${ext}`);
      const info = await statSpec(path);
      if (info !== null) found.push({ path, ...info });
    }
    const previous = entries.get(name);
    const [only, ...others] = found;
    if (!only) {
      if (!previous) return null;
      entries.delete(name);
      return {
        machine: name,
        source: previous.source,
        ok: true,
        diagnostics: [],
        keptLastGood: false,
        removed: true,
      };
    }
    if (others.length > 0) {
      const paths = found.map((f) => f.path).join(", ");
      const version = found.map((f) => f.version).join(",");
      if (previous?.version === version) return null;
      const lookup: MachineLookup = {
        ok: false,
        reason: `machine ${name} is ambiguous: both ${paths} exist`,
        diagnostics: [],
      };
      entries.set(name, { source: paths, version, lookup, lastGood: previous?.lastGood ?? null });
      return {
        machine: name,
        source: paths,
        ok: false,
        diagnostics: [],
        keptLastGood: false,
        reason: lookup.reason,
      };
    }
    if (previous?.source === only.path && previous.version === only.version) return null;
    if (only.size > MAX_SPEC_BYTES) {
      const { entry, result } = oversizedEntry(
        name,
        only.path,
        only.version,
        only.size,
        previous,
        keepLastGood,
      );
      entries.set(name, entry);
      return result;
    }
    let text: string;
    try {
      text = await readFile(only.path, "utf8");
    } catch (cause) {
      throw new MachineSourceError(`cannot read ${only.path}`, { cause });
    }
    const { entry, result } = compileEntry(name, only.path, only.version, text, previous, keepLastGood);
    entries.set(name, entry);
    return result;
  }

  // The watcher's refresh() and an event's get() may look at one file at once: report a change once.
  const syncing = new Map<string, Promise<ReloadResult | null>>();
  function syncOnce(name: string): Promise<ReloadResult | null> {
    let p = syncing.get(name);
    if (!p) {
      p = sync(name).finally(() => syncing.delete(name));
      syncing.set(name, p);
      return p;
    }
    // Someone else reports that change; we still want the entry current once they are done.
    return p.then(() => null);
  }

  async function refresh(): Promise<ReloadResult[]> {
    let files: string[];
    try {
      files = await readdir(dir);
    } catch (cause) {
      throw new MachineSourceError(`cannot read the spec folder ${dir}`, { cause });
    }
    const names = new Set([
      ...files.map(machineNameOf).filter((n): n is string => n !== null),
      ...entries.keys(),
    ]);
    const results: ReloadResult[] = [];
    for (const name of [...names].sort()) {
      const change = await syncOnce(name);
      if (change) results.push(change);
    }
    if (results.length > 0) opts.onReload?.(results);
    return results;
  }

  return {
    async get(name) {
      if (!MACHINE_NAME.test(name)) return unknownMachine(name, dir);
      const change = await syncOnce(name);
      if (change) opts.onReload?.([change]);
      return entries.get(name)?.lookup ?? unknownMachine(name, dir);
    },
    async all() {
      await refresh();
      return new Map([...entries].map(([name, entry]) => [name, entry.lookup]));
    },
    cached(name) {
      const entry = entries.get(name);
      if (!entry) return undefined;
      // Edits show on the next event: bring the entry up to date in the background.
      syncOnce(name)
        .then((change) => change && opts.onReload?.([change]))
        .catch(() => {});
      return entry.lookup;
    },
    refresh,
  };
}
