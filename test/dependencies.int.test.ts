// Every package.json declares what its code imports, and imports what it declares: a dependency
// nothing imports is dead weight in every install and zip; an import nothing declares works only
// because npm happened to hoist someone else's dependency, and breaks when that one changes.
// The imports are read from the sources (static, dynamic, require, import.meta.resolve).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface PackageJson {
  name: string;
  workspaces?: string[];
  scripts?: Record<string, string>;
  bin?: string | Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as PackageJson;
const ROOT_PACKAGE = readJson(join(ROOT, "package.json"));
const WORKSPACES = (ROOT_PACKAGE.workspaces ?? []).map((dir) => ({
  dir,
  pkg: readJson(join(ROOT, dir, "package.json")),
}));
const WORKSPACE_NAMES = new Set(WORKSPACES.map((w) => w.pkg.name));
const BUILTINS = new Set(builtinModules);

const SKIPPED = new Set(["node_modules", "dist", "cdk.out", "coverage", "__snapshots__", "fixtures"]);
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

/** Source files under `dir` (declaration files and build output excluded). */
function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

interface Use {
  pkg: string;
  typeOnly: boolean;
  file: string;
}

const SPECIFIER = [
  // import … from "x", export … from "x", import "x" (type-only when `import type` / `export type`)
  /(?:^|[\s;}])(?:import|export)(\s+type)?\s+(?:[^;'"]*?\sfrom\s*)?["']([^"'\n]+)["']/g,
  // import("x"), require("x"), require.resolve("x"), import.meta.resolve("x")
  /\b(?:import|require|require\.resolve|import\.meta\.resolve)\s*\(\s*["']([^"'\n]+)["']\s*\)/g,
  // a file read straight out of a package: node_modules/x/…
  /node_modules\/((?:@[\w.-]+\/)?[\w.-]+)\//g,
];

/** The package an import specifier names, or null for relative paths and Node built-ins. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) return null;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
  return BUILTINS.has(name) ? null : name;
}

/**
 * The packages a file uses. Comments that start a line are dropped first: they name packages
 * without using them (a block comment is only recognised at a line's start, since `/*` also
 * occurs in strings, as in globs).
 */
function usesIn(file: string): Use[] {
  const text = readFileSync(file, "utf8")
    .replace(/^[ \t]*\/\/.*$/gm, "")
    .replace(/^[ \t]*\/\*[\s\S]*?\*\//gm, "");
  const found: Use[] = [];
  const [statement, call, path] = SPECIFIER as [RegExp, RegExp, RegExp];
  for (const m of text.matchAll(statement))
    found.push({ pkg: m[2] as string, typeOnly: m[1] !== undefined, file });
  for (const m of [...text.matchAll(call), ...text.matchAll(path)])
    found.push({ pkg: m[1] as string, typeOnly: false, file });
  return found.flatMap((use) => {
    const pkg = packageOf(use.pkg);
    return pkg === null ? [] : [{ ...use, pkg, file: relative(ROOT, file) }];
  });
}

const usesOf = (dirs: string[]) => dirs.flatMap((dir) => sources(join(ROOT, dir))).flatMap(usesIn);
const namesOf = (...records: (Record<string, string> | undefined)[]) =>
  new Set(records.flatMap((r) => Object.keys(r ?? {})));

/** The command names a package installs (its `bin`), read from its installed package.json. */
function binsOf(pkg: string): string[] {
  const path = join(ROOT, "node_modules", pkg, "package.json");
  if (!existsSync(path)) return [];
  const { name, bin } = readJson(path);
  if (bin === undefined) return [];
  return typeof bin === "string" ? [name.split("/").at(-1) as string] : Object.keys(bin);
}

/** Whether `scripts` run one of the package's commands (`tsc …`, `cdk synth`, `… && biome check`). */
function runsBinOf(pkg: string, scripts: string[]): boolean {
  return binsOf(pkg).some((bin) =>
    scripts.some((s) => new RegExp(`(^|[\\s;&|(])(npx\\s+)?${bin}(\\s|$)`, "m").test(s)),
  );
}

const ROOT_DECLARED = namesOf(ROOT_PACKAGE.dependencies, ROOT_PACKAGE.devDependencies);
/** A type-only import is satisfied by the package or its @types package, declared in `declared`. */
const typesDeclared = (pkg: string, declared: Set<string>) =>
  declared.has(pkg) || declared.has(`@types/${pkg.replace(/^@/, "").replace("/", "__")}`);

/** One line per package: where it is first imported, and how many other files import it. */
function format(uses: Use[]): string[] {
  const files = new Map<string, Set<string>>();
  for (const u of uses) files.set(u.pkg, (files.get(u.pkg) ?? new Set()).add(u.file));
  return [...files]
    .map(([pkg, where]) => {
      const [first, ...more] = [...where].sort();
      return `${pkg} (${first}${more.length > 0 ? ` and ${more.length} more` : ""})`;
    })
    .sort();
}

describe("dependencies match imports", () => {
  for (const { dir, pkg } of WORKSPACES) {
    describe(pkg.name, () => {
      const shipped = usesOf([`${dir}/src`, `${dir}/bin`]);
      const tests = usesOf([`${dir}/test`]);
      const runtime = namesOf(pkg.dependencies, pkg.peerDependencies, pkg.optionalDependencies);
      const all = namesOf(
        pkg.dependencies,
        pkg.peerDependencies,
        pkg.optionalDependencies,
        pkg.devDependencies,
      );

      it("declares every package its sources import", () => {
        const missing = shipped.filter(
          (u) =>
            u.pkg !== pkg.name &&
            !(u.typeOnly
              ? typesDeclared(u.pkg, all) || typesDeclared(u.pkg, ROOT_DECLARED)
              : runtime.has(u.pkg)),
        );
        expect(format(missing)).toEqual([]);
      });

      it("imports every package it declares", () => {
        const used = new Set([...shipped, ...tests].map((u) => u.pkg));
        const scripts = Object.values(pkg.scripts ?? {});
        const unused = [...all].filter((d) => !used.has(d) && !runsBinOf(d, scripts));
        expect(unused).toEqual([]);
      });

      it("its tests import only what it or the root declares", () => {
        const missing = tests.filter(
          (u) =>
            !WORKSPACE_NAMES.has(u.pkg) &&
            !(u.typeOnly
              ? typesDeclared(u.pkg, all) || typesDeclared(u.pkg, ROOT_DECLARED)
              : all.has(u.pkg) || ROOT_DECLARED.has(u.pkg)),
        );
        expect(format(missing)).toEqual([]);
      });
    });
  }

  describe("the root package", () => {
    // What runs from the repository root: benchmarks, tests, scripts and tool configuration.
    const rootCode = [...usesOf(["bench", "test", "scripts"]), ...usesIn(join(ROOT, "vitest.config.ts"))];

    it("declares every package bench/, test/ and scripts/ import (workspaces aside)", () => {
      const missing = rootCode.filter(
        (u) =>
          !WORKSPACE_NAMES.has(u.pkg) &&
          !(u.typeOnly ? typesDeclared(u.pkg, ROOT_DECLARED) : ROOT_DECLARED.has(u.pkg)),
      );
      expect(format(missing)).toEqual([]);
    });

    it("uses every package it declares: imported, the types of something imported, or a command it runs", () => {
      const imported = new Set([
        ...rootCode.map((u) => u.pkg),
        ...WORKSPACES.flatMap(({ dir }) => usesOf([`${dir}/test`]).map((u) => u.pkg)),
      ]);
      const anywhere = new Set([
        ...imported,
        ...WORKSPACES.flatMap(({ dir }) => usesOf([`${dir}/src`, `${dir}/bin`]).map((u) => u.pkg)),
        "node", // @types/node: every source uses Node's own modules
      ]);
      const ci = existsSync(join(ROOT, ".ci/run")) ? [readFileSync(join(ROOT, ".ci/run"), "utf8")] : [];
      const scripts = [...Object.values(ROOT_PACKAGE.scripts ?? {}), ...ci];
      const unused = [...ROOT_DECLARED].filter((d) => {
        if (imported.has(d) || runsBinOf(d, scripts)) return false;
        const typed = /^@types\/(.+)$/.exec(d)?.[1];
        return (
          typed === undefined || !anywhere.has(typed.includes("__") ? `@${typed.replace("__", "/")}` : typed)
        );
      });
      expect(unused).toEqual([]);
    });
  });
});
