import { Composer, LineCounter } from "yaml";
import { SpecError } from "./errors.js";
import { printable } from "./failure-text.js";
import type { MachineSpec } from "./generated/machine-spec.js";
import { compileMachine, type Machine } from "./machine.js";
import type { Diagnostic, Severity } from "./model.js";
import { formatPath, type PathSegment } from "./paths.js";
import { explainSchemaErrors } from "./schema-errors.js";
import { schemaErrors, validators } from "./schema-validators.js";
import {
  boundedTokens,
  bytesOver,
  MAX_SPEC_BYTES,
  MAX_SPEC_DEPTH,
  specTooLargeMessage,
  tooDeepPath,
} from "./spec-limits.js";
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

const tooDeep = `mappings and lists are nested more than ${MAX_SPEC_DEPTH} levels deep here; a spec may nest at most ${MAX_SPEC_DEPTH}`;

/**
 * Parses and validates a YAML machine spec, collecting every problem with its position. Never
 * throws: a spec over MAX_SPEC_BYTES or nested deeper than MAX_SPEC_DEPTH, and whatever else YAML or
 * our readers cannot handle, comes back as an error diagnostic.
 */
export function parseSpec(text: string, opts: ParseSpecOptions): SpecResult {
  const diagnostics: Diagnostic[] = [];
  const add: Add = (severity, path, line, column, message) => {
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
  try {
    return readSpec(text, opts, add, diagnostics);
  } catch (cause) {
    // A bug or an exhausted resource in a reader must cost this spec, never the caller's whole batch.
    add("error", "", 1, 1, `the spec could not be read: ${thrownText(cause)}`);
    return done(null, diagnostics);
  }
}

type Add = (
  severity: Severity,
  path: PathSegment[] | string,
  line: number,
  column: number,
  message: string,
) => void;

function readSpec(text: string, opts: ParseSpecOptions, add: Add, diagnostics: Diagnostic[]): SpecResult {
  const size = bytesOver(text, MAX_SPEC_BYTES);
  if (size !== null) {
    add("error", "", 1, 1, specTooLargeMessage(size));
    return done(null, diagnostics);
  }
  const lineCounter = new LineCounter();
  const tokens = boundedTokens(text, MAX_SPEC_DEPTH, lineCounter.addNewLine);
  if (!tokens.ok) {
    const { line, col } = lineCounter.linePos(tokens.offset);
    add("error", "", line, col, tooDeep);
    return done(null, diagnostics);
  }
  const documents = [
    ...new Composer({
      lineCounter,
      merge: true,
      uniqueKeys: false,
      prettyErrors: false,
      version: "1.2",
      // The library would otherwise print its own warnings; they are returned as diagnostics instead.
      logLevel: "error",
    }).compose(tokens.tokens, true, text.length),
  ];
  const [doc, second] = documents;
  if (!doc) throw new Error("the YAML composer returned no document");
  if (second) {
    const { line, col } = lineCounter.linePos(second.range[0]);
    add("error", "", line, col, `YAML syntax error: ${yamlMessage("MULTIPLE_DOCS", "")}`);
  }
  for (const e of doc.errors) {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    add("error", "", line, col, `YAML syntax error: ${yamlMessage(e.code, e.message)}`);
  }
  if (diagnostics.length > 0) return done(null, diagnostics);
  for (const w of doc.warnings) {
    const { line, col } = lineCounter.linePos(w.pos[0]);
    add("warning", "", line, col, `YAML: ${w.message}`);
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (cause) {
    add("error", "", 1, 1, `the YAML could not be read: ${thrownText(cause)}`);
    return done(null, diagnostics);
  }
  if (value === null || value === undefined) {
    add("error", "", 1, 1, "the spec is empty: expected a mapping with version, events and states");
    return done(null, diagnostics);
  }
  // The text is at most MAX_SPEC_DEPTH deep, but aliases can nest what they name inside each other.
  const deepPath = tooDeepPath(value, MAX_SPEC_DEPTH);
  if (deepPath !== null) {
    const { line, column } = positionOf(doc, lineCounter, deepPath, false);
    add("error", deepPath, line, column, `${tooDeep} (counting what aliases bring in)`);
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
    case "RESOURCE_EXHAUSTION":
      return `the YAML reader ran out of resources here (${message}); nest less deeply`;
    default:
      return message;
  }
}

/** What was thrown, for a diagnostic: its kind and message, never a stack. */
function thrownText(cause: unknown): string {
  if (cause instanceof RangeError) return `${cause.message} (nested too deeply or too large to read)`;
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
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
