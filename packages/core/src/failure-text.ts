import { sanitizeText } from "./sanitize-text.js";

/**
 * Characters that change how the text around them is displayed without being seen: bidi
 * embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069, the "Trojan Source" family),
 * directional marks, zero-width characters, line/paragraph separators, the BOM and interlinear
 * annotation controls. A terminal reader must see that they are there.
 */
const INVISIBLE = /[\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;

/** `⟨U+202E⟩`: a stand-in nobody can mistake for the character it names. */
function named(ch: string): string {
  return `⟨U+${ch.codePointAt(0)?.toString(16).toUpperCase().padStart(4, "0")}⟩`;
}

/** Options for `printable`. */
export interface PrintableOptions {
  /** Keep line breaks (for multi-line output such as `--full`); otherwise they become `␊`. */
  multiline?: boolean;
}

/**
 * Makes text safe to print to a terminal: escape sequences are removed, control characters show
 * as their control pictures (NUL → ␀), and bidi overrides and other invisible formatting
 * characters show as `⟨U+XXXX⟩`, so no printed text can reorder or hide what follows it.
 */
export function printable(text: string, opts: PrintableOptions = {}): string {
  const safe = sanitizeText(text).replace(INVISIBLE, named);
  return opts.multiline ? safe : safe.replaceAll("\n", "␊");
}

// A line that reports an error the way most tools do: Terraform's `Error: …` (inside its `│` box),
// JavaScript's `TypeError: …`, `ERROR: …` from Postgres, `error: …` from compilers and git.
const ERROR_LINE = /(?:^|[^A-Za-z])(?:[A-Za-z]*Error|ERROR|error):/;
// Terraform frames diagnostics in a box drawn with these at the start of each line (│ ╷ ╵, as
// escapes: a raw one would be the only non-ASCII byte left in the release bundles, see
// build-release.mjs).
const BOX_PREFIX = /^[\s\u2502\u2577\u2575|]+/u;

/** The most `failureSummary` returns by default: one terminal line's worth, a little more. */
export const FAILURE_SUMMARY_MAX = 400;

/** Options for `failureSummary`. */
export interface FailureSummaryOptions {
  /** Cut the summary to this many characters (default FAILURE_SUMMARY_MAX). */
  max?: number;
}

/**
 * The one line a person needs from a failure description: the first `Error:` line (Terraform
 * prints warnings before it, so the description's first characters are rarely the error), after
 * after the description's first line (which says what failed); else the first non-empty line.
 * Printable and on one line.
 */
export function failureSummary(description: string, opts: FailureSummaryOptions = {}): string {
  const max = opts.max ?? FAILURE_SUMMARY_MAX;
  const lines = printable(description, { multiline: true })
    .split("\n")
    .map((line) => line.replace(BOX_PREFIX, "").trim())
    .filter((line) => line !== "");
  const first = lines[0] ?? "";
  const error = lines.find((line) => ERROR_LINE.test(line));
  let summary = first;
  if (error !== undefined && error !== first) {
    // "terraform apply failed (exit code 1)" + "Error: Invalid reference" reads as one sentence.
    summary = `${first.replace(/:$/, "")}: ${error}`;
  }
  const chars = [...summary.replaceAll("\t", " ")];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

/** A failure description for a person: `failureSummary`, or with `full` the whole text, printable. */
export function failureText(description: string, opts: { full?: boolean } = {}): string {
  return opts.full ? printable(description, { multiline: true }).trimEnd() : failureSummary(description);
}
