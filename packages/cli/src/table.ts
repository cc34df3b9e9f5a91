import { printable } from "@stackseam/core";
import { paint, type Style } from "./colour.js";

/** A table cell: plain text, or text with a style applied after the columns are aligned. */
export type Cell = string | { text: string; style?: Style | undefined };

export interface TableOptions {
  /** Lines printed right under row `i` (already indented as wanted), e.g. a failure in full. */
  after?(i: number): string[];
}

const textOf = (c: Cell | undefined): string => (c === undefined ? "" : typeof c === "string" ? c : c.text);

/** Renders rows as left-aligned columns under upper-case headers; cells never wrap. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  opts: TableOptions = {},
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => textOf(r[i]).length)));
  const line = (cells: readonly Cell[]) =>
    cells
      .map((c, i) => {
        const text = textOf(c);
        const padded = i === cells.length - 1 ? text : text.padEnd(widths[i] ?? 0);
        const style = typeof c === "string" ? undefined : c.style;
        // Only the text is styled, so the padding (and the alignment) stays the same with colour.
        return style ? paint(style, text) + padded.slice(text.length) : padded;
      })
      .join("  ")
      .trimEnd();
  const out = [line(headers.map((h) => h.toUpperCase()))];
  rows.forEach((row, i) => {
    out.push(line(row));
    out.push(...(opts.after?.(i) ?? []));
  });
  return `${out.join("\n")}\n`;
}

/** Text for a table cell: one printable line (control and bidi characters shown), shortened to `max`. */
export function cell(text: string | null | undefined, max = 80): string {
  if (text === null || text === undefined) return "";
  const flat = printable(text.replace(/\s+/g, " ")).trim();
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : flat;
}

/** Indents every non-empty line of a block (for a table printed inside another section). */
export function indent(block: string, by = "  "): string {
  return block.replace(/^(?=.)/gm, by);
}
