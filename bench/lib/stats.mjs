// Small statistics and formatting helpers; medians because shared machines are noisy.

/** The q-quantile (0..1) of the numbers, by linear interpolation; NaN when empty. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const median = (values) => quantile(values, 0.5);
export const sum = (values) => values.reduce((a, b) => a + b, 0);
export const mean = (values) => (values.length === 0 ? Number.NaN : sum(values) / values.length);

/** A number with a sensible number of digits for a table. */
export function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "min–max" of the runs, to show the spread next to a median. */
export function spread(values, digits) {
  if (values.length < 2) return "";
  return `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;
}

/** A markdown table from a header row and rows of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Pass/miss mark for a target. */
export const mark = (ok) => (ok ? "✅" : "❌");
