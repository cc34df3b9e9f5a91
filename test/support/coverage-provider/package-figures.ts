// Per-package line and branch figures of a coverage map, and the table `npm test` prints.
import { relative } from "node:path";

interface Count {
  covered: number;
  total: number;
}
/** Lines and branches of one package's src/. */
export interface PackageFigures {
  lines: Count;
  branches: Count;
}

/** The parts of istanbul's coverage map this module reads. */
export interface SummaryMap {
  files(): string[];
  fileCoverageFor(file: string): {
    toSummary(): { data: { lines: Count; branches: Count } };
  };
}

/** Sums the files of each `packages/<name>/src/` (relative to `root`). */
export function packageFigures(map: SummaryMap, root: string): Record<string, PackageFigures> {
  const figures: Record<string, PackageFigures> = {};
  for (const file of map.files()) {
    const name = /^packages\/([^/]+)\/src\//.exec(relative(root, file))?.[1];
    if (name === undefined) continue;
    const { lines, branches } = map.fileCoverageFor(file).toSummary().data;
    const into = figures[name] ?? { lines: { covered: 0, total: 0 }, branches: { covered: 0, total: 0 } };
    figures[name] = into;
    into.lines.covered += lines.covered;
    into.lines.total += lines.total;
    into.branches.covered += branches.covered;
    into.branches.total += branches.total;
  }
  return figures;
}

/** A percentage as istanbul computes it (100 for nothing to cover), two decimals. */
export function percent(c: Count): number {
  return c.total === 0 ? 100 : Math.floor((10_000 * c.covered) / c.total) / 100;
}

type Thresholds = Record<string, unknown>;

/** The `{ lines, branches }` threshold of `packages/<name>/src/**`, if the config sets one. */
function thresholdOf(thresholds: Thresholds | undefined, name: string) {
  const t = thresholds?.[`packages/${name}/src/**`];
  return (t ?? {}) as { lines?: number; branches?: number };
}

/**
 * One line per package: lines and branches with all tests (in-process and child processes), the
 * threshold, and the in-process figure alone so that the child processes' share stays visible.
 */
export function figuresTable(
  final: Record<string, PackageFigures>,
  inProcess: Record<string, PackageFigures>,
  thresholds: Thresholds | undefined,
): string {
  const cell = (c: Count, min: number | undefined) => {
    const pct = percent(c);
    const mark = min === undefined ? "" : pct >= min ? ` ≥ ${min}` : ` < ${min} ✗`;
    return `${pct.toFixed(2).padStart(6)} %${mark}`.padEnd(18);
  };
  const rows = Object.keys(final)
    .sort()
    .map((name) => {
      const f = final[name] as PackageFigures;
      const alone = inProcess[name];
      const t = thresholdOf(thresholds, name);
      const before = alone
        ? `${percent(alone.lines).toFixed(2)} / ${percent(alone.branches).toFixed(2)}`
        : "-";
      return `${name.padEnd(15)} ${cell(f.lines, t.lines)} ${cell(f.branches, t.branches)} ${before}`;
    });
  return [
    `${"package".padEnd(15)} ${"lines".padEnd(18)} ${"branches".padEnd(18)} in-process alone (lines / branches)`,
    ...rows,
  ].join("\n");
}
