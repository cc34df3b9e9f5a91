// HTML built only through `html`: every interpolated value is escaped unless it is already Html,
// so attacker-controlled text (stack ids, metadata, reasons, Terraform output) is always text.
import { printable } from "@stackseam/core";

/** Markup that is safe to insert as it is (built by `html` or `raw`). */
export class Html {
  readonly value: string;

  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

/** Escapes text for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

/** A value `html` can interpolate: text is escaped, arrays are joined, null/undefined/false vanish. */
export type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map((v) => render(v as Interpolation)).join("");
  return escapeHtml(String(value));
}

/** Builds markup from a template literal, escaping every interpolated value. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return new Html(out);
}

/** Markup from a trusted constant (never from data). */
export function raw(markup: string): Html {
  return new Html(markup);
}

/**
 * Text from outside shown on one line: control characters as their pictures and bidi or
 * invisible characters named, so nothing can hide or reorder what follows; escaped by `html`.
 */
export function text(value: string, max = 500): string {
  const shown = printable(value);
  const chars = [...shown];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : shown;
}

/** Like `text` but keeps line breaks (for <pre>). */
export function block(value: string): string {
  return printable(value, { multiline: true });
}

/** A URL path with each segment percent-encoded, plus a query from the defined entries. */
export function href(
  path: readonly string[],
  query: Record<string, string | number | undefined> = {},
): string {
  const p = `/${path.map((s) => encodeURIComponent(s)).join("/")}`;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") q.set(k, String(v));
  const qs = q.toString();
  return qs ? `${p}?${qs}` : p;
}
