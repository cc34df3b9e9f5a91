// Coverage of the code tests run in child processes (the CLI bin, `stackseam dev`, the satisfier's
// runner): their raw V8 coverage (NODE_V8_COVERAGE) is of the built dist/*.js, which the source
// maps tsc writes beside it turn back into src/*.ts positions.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import v8Coverage from "@bcoe/v8-coverage";

/** The variable that hands the child coverage folder from the provider to the test workers. */
export const CHILD_COVERAGE_ENV = "STACKSEAM_CHILD_COVERAGE";

export interface ScriptCoverage {
  url: string;
  scriptId?: string;
  functions: Array<{
    functionName: string;
    isBlockCoverage: boolean;
    ranges: Array<{ startOffset: number; endOffset: number; count: number }>;
  }>;
}

export interface ChildScripts {
  /** dist scripts of the workspace packages, merged over every child process. */
  scripts: ScriptCoverage[];
  /** Coverage files read (one per child process that exited normally). */
  processes: number;
  /** Files that were not complete JSON (a process killed while writing). */
  unreadable: number;
}

/** Reads every child process's coverage in `dir`, keeping only `packages/<name>/dist/**.js`. */
export async function readChildScripts(dir: string, root: string): Promise<ChildScripts> {
  const rootUrl = `file://${root.endsWith("/") ? root : `${root}/`}`;
  const ours = new RegExp(`^${escapeRegExp(rootUrl)}packages/[^/]+/dist/.+\\.js$`);
  let merged: { result: ScriptCoverage[] } = { result: [] };
  let processes = 0;
  let unreadable = 0;
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".json"));
  for (const file of files) {
    let parsed: { result?: ScriptCoverage[] };
    try {
      parsed = JSON.parse(await readFile(join(dir, file), "utf8"));
    } catch {
      unreadable++;
      continue;
    }
    processes++;
    const result = (parsed.result ?? []).filter((s) => ours.test(s.url));
    if (result.length > 0) merged = v8Coverage.mergeProcessCovs([merged, { result }]);
  }
  return { scripts: merged.result, processes, unreadable };
}

/** A dist script's code and its tsc source map with absolute source URLs; null without a map. */
export async function distSources(
  url: string,
): Promise<{ code: string; map: { sources: string[] } & Record<string, unknown> } | null> {
  const path = fileURLToPath(url);
  try {
    const [code, mapText] = await Promise.all([readFile(path, "utf8"), readFile(`${path}.map`, "utf8")]);
    const map = JSON.parse(mapText) as { sources: string[] } & Record<string, unknown>;
    map.sources = map.sources.map((source) => new URL(source, url).href);
    return { code, map };
  } catch {
    return null;
  }
}

interface Position {
  line: number;
  column: number;
}
interface Range {
  start: Position;
  end: Position;
}
/** The parts of istanbul's file coverage data this module reads and adds to. */
export interface FileCoverageData {
  statementMap: Record<string, Range>;
  s: Record<string, number>;
  fnMap: Record<string, { loc: Range }>;
  f: Record<string, number>;
  branchMap: Record<string, { type: string; locations: Range[] }>;
  b: Record<string, number[]>;
}

export interface HitCounts {
  /** Items the children ran that exist in the in-process structure of the file. */
  matched: number;
  /** Items the children ran with no counterpart (their hits are dropped, never invented). */
  unmatched: number;
}

const fullKey = (r: Range) => `${r.start.line}:${r.start.column}-${r.end.line}:${r.end.column}`;
const startKey = (r: Range) => `${r.start.line}:${r.start.column}`;
const before = (a: Position, b: Position) => a.line < b.line || (a.line === b.line && a.column <= b.column);

/**
 * Finds the in-process item for a child's item. The two conversions start from different
 * JavaScript (vite's transform of src/ against tsc's dist/) and may disagree on where an item
 * starts or ends by a few columns, so after the exact range, items match by a start only one
 * item has, then by `loose` (per kind, below).
 */
function matcher<T>(
  items: Record<string, T>,
  range: (item: T) => Range,
  kind: (item: T) => string,
  loose: (child: Range, candidates: Array<[string, Range]>) => string | undefined,
) {
  const byFull = new Map<string, string>();
  const byStart = new Map<string, string | null>();
  const byLine = new Map<string, Array<[string, Range]>>();
  for (const [id, item] of Object.entries(items)) {
    const r = range(item);
    const k = kind(item);
    byFull.set(`${k} ${fullKey(r)}`, id);
    const s = `${k} ${startKey(r)}`;
    byStart.set(s, byStart.has(s) ? null : id);
    const line = `${k} ${r.start.line}`;
    byLine.set(line, [...(byLine.get(line) ?? []), [id, r]]);
  }
  return (item: T) => {
    const r = range(item);
    const k = kind(item);
    return (
      byFull.get(`${k} ${fullKey(r)}`) ??
      byStart.get(`${k} ${startKey(r)}`) ??
      loose(r, byLine.get(`${k} ${r.start.line}`) ?? [])
    );
  };
}

/**
 * A statement that ran means the statement enclosing it ran, and either way its line ran: the
 * innermost statement on the same line that starts before it, else the first on that line. Line
 * coverage (which counts a line when a statement starting on it ran) stays exact.
 */
function sameLineStatement(child: Range, candidates: Array<[string, Range]>): string | undefined {
  const enclosing = candidates.filter(([, r]) => before(r.start, child.start) && before(child.start, r.end));
  enclosing.sort(([, a], [, b]) => b.start.column - a.start.column);
  const sorted = [...candidates].sort(([, a], [, b]) => a.start.column - b.start.column);
  return (enclosing[0] ?? sorted[0])?.[0];
}

/** A function is the one that starts and ends on the same lines, when only one does. */
function sameLinesFunction(child: Range, candidates: Array<[string, Range]>): string | undefined {
  const same = candidates.filter(([, r]) => r.end.line === child.end.line);
  return same.length === 1 ? same[0]?.[0] : undefined;
}

/** Branches match exactly or by a unique start: a hit on the wrong branch would be invented. */
const noLooseMatch = () => undefined;

const NOWHERE: Range = { start: { line: 0, column: 0 }, end: { line: 0, column: 0 } };

/**
 * Adds the hits of `extra` (the same source file, converted from the built JavaScript a child
 * ran) to `base` (vitest's coverage of the source). Only hits are added: the statements, functions
 * and branches that are counted stay those of `base`, so the totals are the in-process totals and
 * a child can only turn an uncovered item covered.
 */
export function addHits(base: FileCoverageData, extra: FileCoverageData, counts: HitCounts): void {
  const statement = matcher(
    base.statementMap,
    (s) => s,
    () => "",
    sameLineStatement,
  );
  for (const [id, range] of Object.entries(extra.statementMap)) {
    const hits = extra.s[id] ?? 0;
    if (hits === 0) continue;
    const to = statement(range);
    if (to === undefined) counts.unmatched++;
    else {
      base.s[to] = (base.s[to] ?? 0) + hits;
      counts.matched++;
    }
  }
  const fn = matcher(
    base.fnMap,
    (f) => f.loc,
    () => "",
    sameLinesFunction,
  );
  for (const [id, item] of Object.entries(extra.fnMap)) {
    const hits = extra.f[id] ?? 0;
    if (hits === 0) continue;
    const to = fn(item);
    if (to === undefined) counts.unmatched++;
    else {
      base.f[to] = (base.f[to] ?? 0) + hits;
      counts.matched++;
    }
  }
  const branch = matcher(
    base.branchMap,
    (b) => b.locations[0] ?? NOWHERE,
    (b) => b.type,
    noLooseMatch,
  );
  for (const [id, item] of Object.entries(extra.branchMap)) {
    const hits = extra.b[id] ?? [];
    if (!hits.some((h) => h > 0)) continue;
    const to = branch(item);
    const into = to === undefined ? undefined : base.b[to];
    if (to === undefined || into === undefined || into.length !== hits.length) {
      counts.unmatched++;
      continue;
    }
    base.b[to] = into.map((h, i) => h + (hits[i] ?? 0));
    counts.matched++;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
