import { LineCounter, parseDocument } from "yaml";
import { SpecError } from "./errors.js";
import { printable } from "./failure-text.js";
import type { MachineSpec } from "./generated/machine-spec.js";
import { compileMachine, type Machine } from "./machine.js";
import type { Diagnostic, Severity } from "./model.js";
import { formatPath, type PathSegment } from "./paths.js";
import { explainSchemaErrors } from "./schema-errors.js";
import { schemaErrors, validators } from "./schema-validators.js";
import { checkSpecRules } from "./spec-rules.js";
import { duplicateKeys, positionOf } from "./yaml-positions.js";

export interface SpecResult {
  /** The compiled machine; null iff any diagnostic is an error. */
  machine: Machine | null;
  diagnostics: Diagnostic[];
}

export interface ParseSpecOptions {
  /** Machine name: the spec file name without .yml/.yaml. */
  name: string;
  /** Shown in diagnostics. */
  file?: string;
}

// Anchors may legitimately be reused a lot; this only stops alias bombs ("billion laughs").
const MAX_ALIAS_COUNT = 1000;

/** Parses and validates a YAML machine spec, collecting every problem with its position. */
export function parseSpec(text: string, opts: ParseSpecOptions): SpecResult {
  const lineCounter = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const add = (
    severity: Severity,
    path: PathSegment[] | string,
    line: number,
    column: number,
    message: string,
  ) => {
    const d: Diagnostic = {
      severity,
      path: typeof path === "string" ? path : formatPath(path),
      line,
      column,
      message,
    };
    if (opts.file !== undefined) d.file = opts.file;
    diagnostics.push(d);
  };

  const doc = parseDocument(text, {
    lineCounter,
    merge: true,
    uniqueKeys: false,
    prettyErrors: false,
    version: "1.2",
    // The library would otherwise print its own warnings; they are returned as diagnostics instead.
    logLevel: "error",
  });
  for (const e of doc.errors) {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    add("error", "", line, col, `YAML syntax error: ${yamlMessage(e.code, e.message)}`);
  }
  if (doc.errors.length > 0) return done(null, diagnostics);
  for (const w of doc.warnings) {
    const { line, col } = lineCounter.linePos(w.pos[0]);
    add("warning", "", line, col, `YAML: ${w.message}`);
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (cause) {
    add(
      "error",
      "",
      1,
      1,
      `the YAML could not be read: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    return done(null, diagnostics);
  }
  if (value === null || value === undefined) {
    add("error", "", 1, 1, "the spec is empty: expected a mapping with version, events and states");
    return done(null, diagnostics);
  }

  for (const dup of duplicateKeys(doc, lineCounter)) {
    const what =
      dup.path.length === 2 && dup.path[0] === "states"
        ? `state "${dup.key}" is defined`
        : dup.path.length === 2 && dup.path[0] === "tasks"
          ? `task "${dup.key}" is defined`
          : `key "${dup.key}" appears`;
    add("error", dup.path, dup.line, dup.column, `${what} more than once (first at line ${dup.firstLine})`);
  }

  const schemaIssues = explainSchemaErrors(schemaErrors(validators.machineSpec, value), value, "yaml");
  const schemaPaths = new Set<string>();
  for (const issue of schemaIssues) {
    const { line, column } = positionOf(doc, lineCounter, issue.path, issue.atKey);
    schemaPaths.add(formatPath(issue.path));
    add("error", issue.path, line, column, issue.message);
  }
  const rules = checkSpecRules(value);
  for (const issue of rules) {
    // The schema already said what is wrong at this spot; one message per spot is enough.
    if (issue.severity !== "error" || schemaPaths.has(formatPath(issue.path))) continue;
    const { line, column } = positionOf(doc, lineCounter, issue.path, issue.atKey);
    add("error", issue.path, line, column, issue.message);
  }
  // Warnings describe the graph, which errors make unreliable ("unreachable" because an advance
  // was misspelt): they are reported once the spec has no errors.
  if (!diagnostics.some((d) => d.severity === "error")) {
    for (const issue of rules) {
      if (issue.severity !== "warning") continue;
      const { line, column } = positionOf(doc, lineCounter, issue.path, issue.atKey);
      add("warning", issue.path, line, column, issue.message);
    }
  }

  if (diagnostics.some((d) => d.severity === "error")) return done(null, diagnostics);
  const machine = compileMachine(opts.name, value as MachineSpec, opts.file);
  machine.source = text;
  return done(machine, diagnostics);
}

function yamlMessage(code: string, message: string): string {
  switch (code) {
    case "MULTIPLE_DOCS":
      return "the file holds several YAML documents (separated by ---); a spec is a single document";
    case "DUPLICATE_KEY":
      return "a key appears more than once in the same mapping";
    default:
      return message;
  }
}

function done(machine: Machine | null, diagnostics: Diagnostic[]): SpecResult {
  diagnostics.sort(
    (a, b) =>
      a.line - b.line ||
      a.column - b.column ||
      (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1) ||
      a.path.localeCompare(b.path) ||
      a.message.localeCompare(b.message),
  );
  return { machine, diagnostics };
}

/** `parseSpec`, throwing a SpecError (with every diagnostic) when the spec has errors. */
export function parseSpecOrThrow(
  text: string,
  opts: ParseSpecOptions,
): { machine: Machine; diagnostics: Diagnostic[] } {
  const result = parseSpec(text, opts);
  if (result.machine === null) {
    const errors = result.diagnostics.filter((d) => d.severity === "error");
    throw new SpecError(
      `machine ${opts.name} is invalid:\n${errors.map(formatDiagnostic).join("\n")}`,
      result.diagnostics,
    );
  }
  return { machine: result.machine, diagnostics: result.diagnostics };
}

/**
 * `file:line:column: severity: path: message`, the form editors and CI logs understand; one line,
 * printable (a key holding NUL or a bidi override shows as ␀ or ⟨U+202E⟩, never as itself).
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file ?? "<spec>"}:${d.line}:${d.column}`;
  return printable(`${where}: ${d.severity}: ${d.path === "" ? "" : `${d.path}: `}${d.message}`);
}
