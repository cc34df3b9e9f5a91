import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { type Diagnostic, formatDiagnostic, type Machine, parseSpec } from "@stackseam/core";
import { parseDocument } from "yaml";
import { paint } from "../colour.js";
import { parseCommandArgs } from "../registry.js";

const help = `Usage: stackseam validate <file|dir>... [--json]

Checks machine specs (.yml/.yaml) and prints one line per problem:
  file:line:column: severity: path: message
A folder validates every .yml/.yaml file directly inside it.

Options:
  --json       print {"valid", "problems", "files": [...]} instead of lines
  -h, --help   show this help

Exit codes: 0 valid (warnings allowed), 1 a spec has errors, 2 usage error, missing file or unreadable YAML.
`;

const SPEC_EXTENSIONS = new Set([".yml", ".yaml"]);

/** One spec file, read and checked. */
export interface SpecFileResult {
  file: string;
  machine: string;
  valid: boolean;
  /** The YAML itself could not be parsed (a usage-level problem: exit 2). */
  unreadable: boolean;
  diagnostics: Diagnostic[];
  compiled: Machine | null;
}

/** The machine name a spec file defines: its file name without .yml/.yaml. */
export function machineNameOf(file: string): string {
  return basename(file, extname(file));
}

/** Reads and validates one spec file; the machine name comes from the file name. */
export async function checkSpecFile(file: string): Promise<SpecFileResult> {
  const text = await readFile(file, "utf8");
  const machine = machineNameOf(file);
  // Shown as the user named it (folders expand to folder/name): what editors and CI logs resolve.
  const result = parseSpec(text, { name: machine, file });
  // A second, plain parse tells syntax errors (exit 2) apart from spec errors (exit 1).
  const unreadable = parseDocument(text, { uniqueKeys: false }).errors.length > 0;
  return {
    file,
    machine,
    valid: result.machine !== null,
    unreadable,
    diagnostics: result.diagnostics,
    compiled: result.machine,
  };
}

/** Expands folders into the spec files directly inside them (sorted); files pass through. */
export async function expandSpecPaths(paths: string[]): Promise<{ files: string[]; problems: string[] }> {
  const files: string[] = [];
  const problems: string[] = [];
  for (const p of paths) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(p);
    } catch {
      problems.push(`${p}: no such file or folder`);
      continue;
    }
    if (info.isDirectory()) {
      const names = (await readdir(p)).filter((n) => SPEC_EXTENSIONS.has(extname(n).toLowerCase())).sort();
      if (names.length === 0) problems.push(`${p}: no .yml or .yaml files in this folder`);
      files.push(...names.map((n) => join(p, n)));
    } else {
      files.push(p);
    }
  }
  return { files, problems };
}

/** Two files naming the same machine (qa.yml and qa.yaml) would shadow each other when loaded. */
function duplicateMachines(results: SpecFileResult[]): void {
  const seen = new Map<string, string>();
  for (const r of results) {
    const first = seen.get(r.machine);
    if (first === undefined) {
      seen.set(r.machine, r.file);
      continue;
    }
    r.valid = false;
    r.diagnostics.push({
      severity: "error",
      path: "",
      line: 1,
      column: 1,
      message: `machine "${r.machine}" is also defined by ${first}; machine names (file names without .yml/.yaml) must be unique`,
      file: r.file,
    });
  }
}

/** `stackseam validate`: exit 0 valid, 1 spec errors, 2 usage error / missing file / unreadable YAML. */
export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    process.stderr.write(`stackseam validate: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (parsed.positionals.length === 0) {
    process.stderr.write(`stackseam validate: give at least one spec file or folder\n\n${help}`);
    return 2;
  }

  const { files, problems } = await expandSpecPaths(parsed.positionals);
  const results: SpecFileResult[] = [];
  for (const file of files) {
    try {
      results.push(await checkSpecFile(file));
    } catch (err) {
      problems.push(`${file}: cannot read: ${(err as Error).message}`);
    }
  }
  duplicateMachines(results);

  if (parsed.values.json) {
    const out = {
      valid: problems.length === 0 && results.every((r) => r.valid),
      problems,
      files: results.map(({ file, machine, valid, diagnostics }) => ({ file, machine, valid, diagnostics })),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    for (const p of problems) process.stderr.write(`stackseam validate: ${p}\n`);
    for (const r of results) {
      for (const d of r.diagnostics)
        process.stdout.write(`${colourDiagnostic(formatDiagnostic(d), d.severity)}\n`);
    }
    process.stdout.write(`${summary(results)}\n`);
  }

  if (problems.length > 0 || results.some((r) => r.unreadable)) return 2;
  return results.every((r) => r.valid) ? 0 : 1;
}

function summary(results: SpecFileResult[]): string {
  const count = (sev: Diagnostic["severity"]) =>
    results.reduce((n, r) => n + r.diagnostics.filter((d) => d.severity === sev).length, 0);
  const valid = results.filter((r) => r.valid).length;
  const errors = count("error");
  const warnings = count("warning");
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `${plural(results.length, "spec")} checked: ${valid} valid, ${results.length - valid} invalid (${plural(errors, "error")}, ${plural(warnings, "warning")})`;
}

function parseOptions(args: string[]) {
  return parseCommandArgs<{ json?: boolean; help?: boolean }>("validate", args);
}

/** Colours the severity word of a formatted diagnostic (on a terminal only). */
export function colourDiagnostic(
  line: string,
  severity: Diagnostic["severity"],
  stream: NodeJS.WriteStream = process.stdout,
): string {
  const word = `: ${severity}: `;
  const at = line.indexOf(word);
  if (at < 0) return line;
  const styled = paint(severity === "error" ? "red" : "yellow", severity, stream);
  return `${line.slice(0, at)}: ${styled}: ${line.slice(at + word.length)}`;
}
