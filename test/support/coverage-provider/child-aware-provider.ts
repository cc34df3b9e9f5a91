// vitest's v8 coverage provider (main process side) with the child processes' coverage added:
// the provider names a folder the test workers pass on as NODE_V8_COVERAGE (child-coverage-env.ts),
// and after the run the dist/ scripts the children ran are converted with the provider's own
// converter (the same AST walk vitest uses for src/) through tsc's source maps, then their hits
// are added to the in-process map. The thresholds and reports then see both.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
// The class itself: @vitest/coverage-v8 exports only a factory. Its version is pinned with vitest's.
import { V8CoverageProvider } from "@vitest/coverage-v8/dist/provider.js";
import type { ReportContext, Vitest } from "vitest/node";
import {
  addHits,
  CHILD_COVERAGE_ENV,
  distSources,
  type FileCoverageData,
  type HitCounts,
  readChildScripts,
  type ScriptCoverage,
} from "./child-coverage.js";
import { figuresTable, type PackageFigures, packageFigures, type SummaryMap } from "./package-figures.js";

/** The provider's converter, private in its typings; the same one it runs on src/. */
interface Converter {
  remapCoverage(
    url: string,
    wrapperLength: number,
    sources: { code: string; map: unknown },
    functions: ScriptCoverage["functions"],
  ): Promise<Record<string, FileCoverageData>>;
}

interface CoverageMap extends SummaryMap {
  fileCoverageFor(file: string): ReturnType<SummaryMap["fileCoverageFor"]> & { data: FileCoverageData };
}

export class ChildAwareCoverageProvider extends V8CoverageProvider {
  private childDir = "";
  private inProcess: Record<string, PackageFigures> = {};
  private final: Record<string, PackageFigures> = {};
  private childNote = "";

  override initialize(ctx: Vitest): void {
    super.initialize(ctx);
    this.childDir = join(this.options.reportsDirectory, ".children");
    // Set before the pool starts, so every worker inherits it.
    process.env[CHILD_COVERAGE_ENV] = this.childDir;
  }

  override async clean(clean?: boolean): Promise<void> {
    await super.clean(clean);
    await rm(this.childDir, { recursive: true, force: true });
    await mkdir(this.childDir, { recursive: true });
  }

  override async generateCoverage(context: ReportContext) {
    const map = (await super.generateCoverage(context)) as unknown as CoverageMap;
    const root = this.ctx.config.root;
    this.inProcess = packageFigures(map, root);
    const children = await readChildScripts(this.childDir, root);
    const files = new Set(map.files());
    const counts: HitCounts = { matched: 0, unmatched: 0 };
    let withoutMap = 0;
    for (const script of children.scripts) {
      const sources = await distSources(script.url);
      if (!sources) {
        withoutMap++;
        continue;
      }
      const converted = await (this as unknown as Converter).remapCoverage(
        script.url,
        0,
        sources,
        script.functions,
      );
      for (const [file, data] of Object.entries(converted)) {
        if (files.has(file)) addHits(map.fileCoverageFor(file).data, data, counts);
      }
    }
    await rm(this.childDir, { recursive: true, force: true });
    this.final = packageFigures(map, root);
    this.childNote =
      `child processes: ${children.processes} wrote coverage` +
      (children.unreadable ? ` (${children.unreadable} unreadable)` : "") +
      `, ${children.scripts.length} dist scripts` +
      (withoutMap ? ` (${withoutMap} without a source map, skipped)` : "") +
      `; ${counts.matched} covered items added, ${counts.unmatched} without a counterpart in src`;
    return map as unknown as Awaited<ReturnType<V8CoverageProvider["generateCoverage"]>>;
  }

  override async reportCoverage(coverage: unknown, context: ReportContext): Promise<void> {
    await super.reportCoverage(coverage, context);
    const log = (s: string) => this.ctx.logger.log(s);
    log(`\n % coverage per package (${this.childNote})`);
    log(figuresTable(this.final, this.inProcess, this.options.thresholds as Record<string, unknown>));
    await mkdir(this.options.reportsDirectory, { recursive: true });
    await writeFile(
      join(this.options.reportsDirectory, "packages.json"),
      `${JSON.stringify({ final: this.final, inProcess: this.inProcess, children: this.childNote }, null, 2)}\n`,
    );
  }
}
