import {
  type Diagnostic,
  formatDiagnostic,
  MACHINE_NAME,
  type Machine,
  parseSpec,
  type SpecResult,
  specTooLargeMessage,
} from "@stackseam/core";

/** A machine ready to drive stacks, or why its events must be refused. */
export type MachineLookup =
  | { ok: true; machine: Machine }
  | { ok: false; reason: string; diagnostics: Diagnostic[] };

/** What one (re)load of one spec produced; dev mode prints these. */
export interface ReloadResult {
  machine: string;
  /** Where the spec came from: a file path or s3://bucket/key. */
  source: string;
  ok: boolean;
  diagnostics: Diagnostic[];
  /** True when the new text is invalid and the previous valid version stays in use. */
  keptLastGood: boolean;
  /** True when the spec disappeared from the source. */
  removed?: boolean;
  /** Why it failed when no diagnostic says so (several specs share the machine's name). */
  reason?: string;
}

/**
 * Where machines come from. `get` returns refusals as data (unknown machine, invalid spec) and
 * throws only for transient failures (S3 unreachable, file system error), so the record is retried.
 */
export interface MachineSource {
  get(name: string): Promise<MachineLookup>;
  /**
   * What the last load found, without any I/O (safe while a row lock is held); undefined when the
   * machine was never loaded. A stale entry starts a reload in the background for later events.
   */
  cached(name: string): MachineLookup | undefined;
  /** Re-reads the source now (ignoring any TTL) and reports what changed. */
  refresh(): Promise<ReloadResult[]>;
  /** Every machine the source holds now (revalidated as `get` would), by name. */
  all(): Promise<Map<string, MachineLookup>>;
}

/** Machine names are spec file names; the pattern (from the schemas) also keeps them from escaping a folder. */
export { MACHINE_NAME };
export const SPEC_EXTENSIONS = [".yml", ".yaml"] as const;

/** The machine name for a spec file name, or null when the file is not a spec. */
export function machineNameOf(fileName: string): string | null {
  for (const ext of SPEC_EXTENSIONS) {
    if (fileName.endsWith(ext)) {
      const name = fileName.slice(0, -ext.length);
      return MACHINE_NAME.test(name) ? name : null;
    }
  }
  return null;
}

/** One spec's cached state: the latest parse and the last version that was valid. */
export interface SpecEntry {
  source: string;
  /** S3 ETag or file mtime: what tells us the text changed. */
  version: string;
  lookup: MachineLookup;
  lastGood: Machine | null;
}

/** Parses spec text into a lookup, keeping the previous valid machine when asked to. */
export function compileEntry(
  name: string,
  source: string,
  version: string,
  text: string,
  previous: SpecEntry | undefined,
  keepLastGood: boolean,
): { entry: SpecEntry; result: ReloadResult } {
  return entryFor(name, source, version, parseSpec(text, { name, file: source }), previous, keepLastGood);
}

/** The entry for a spec over MAX_SPEC_BYTES, refused without reading it (the source knows its size). */
export function oversizedEntry(
  name: string,
  source: string,
  version: string,
  bytes: number,
  previous: SpecEntry | undefined,
  keepLastGood: boolean,
): { entry: SpecEntry; result: ReloadResult } {
  const diagnostic: Diagnostic = {
    severity: "error",
    path: "",
    line: 1,
    column: 1,
    message: specTooLargeMessage(bytes),
    file: source,
  };
  return entryFor(
    name,
    source,
    version,
    { machine: null, diagnostics: [diagnostic] },
    previous,
    keepLastGood,
  );
}

function entryFor(
  name: string,
  source: string,
  version: string,
  { machine, diagnostics }: SpecResult,
  previous: SpecEntry | undefined,
  keepLastGood: boolean,
): { entry: SpecEntry; result: ReloadResult } {
  if (machine) {
    return {
      entry: { source, version, lookup: { ok: true, machine }, lastGood: machine },
      result: { machine: name, source, ok: true, diagnostics, keptLastGood: false },
    };
  }
  const lastGood = previous?.lastGood ?? null;
  const keep = keepLastGood && lastGood !== null;
  const lookup: MachineLookup = keep
    ? { ok: true, machine: lastGood }
    : { ok: false, reason: invalidSpecReason(name, diagnostics), diagnostics };
  return {
    entry: { source, version, lookup, lastGood },
    result: { machine: name, source, ok: false, diagnostics, keptLastGood: keep },
  };
}

/** A refusal reason naming the spec's errors, positioned. */
export function invalidSpecReason(name: string, diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error");
  const shown = errors.slice(0, 5).map(formatDiagnostic);
  const more = errors.length > shown.length ? ` (and ${errors.length - shown.length} more)` : "";
  return `machine ${name} has an invalid spec: ${shown.join("; ")}${more}`;
}

/** Where `logReloads` writes: the two levels it uses of a Powertools logger. */
export interface ReloadLog {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
}

/**
 * An `onReload` that logs each change: a spec that failed to load as a WARN naming the machine and
 * its first error (positioned), since its events are refused (or served by the last good version).
 */
export function logReloads(log: ReloadLog): (results: ReloadResult[]) => void {
  return (results) => {
    for (const r of results) {
      if (r.ok) {
        log.info("machine spec loaded", { machine: r.machine, source: r.source, removed: r.removed });
        continue;
      }
      const errors = r.diagnostics.filter((d) => d.severity === "error");
      const first = errors[0];
      log.warn("machine spec invalid", {
        machine: r.machine,
        source: r.source,
        keptLastGood: r.keptLastGood,
        errors: errors.length,
        firstError: first ? formatDiagnostic(first) : (r.reason ?? "could not be loaded"),
      });
    }
  };
}

/** The refusal for a machine no source holds. */
export function unknownMachine(name: string, where: string): MachineLookup {
  return {
    ok: false,
    reason: `unknown machine "${name}": no ${name}.yml or ${name}.yaml in ${where}`,
    diagnostics: [],
  };
}
