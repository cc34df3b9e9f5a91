// How times and durations read on the pages.
import { type Html, html } from "./html.js";

/** A duration in the largest units that matter: `850 ms`, `12 s`, `3 min 4 s`, `2 h 5 min`, `3 d 4 h`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  const neg = ms < 0;
  let v = Math.abs(ms);
  let out: string;
  if (v < 1000) out = `${Math.round(v)} ms`;
  else if (v < 60_000) out = `${(v / 1000).toFixed(v < 10_000 ? 1 : 0)} s`;
  else {
    v = Math.round(v / 1000);
    const d = Math.floor(v / 86_400);
    const h = Math.floor((v % 86_400) / 3600);
    const m = Math.floor((v % 3600) / 60);
    const s = v % 60;
    if (d > 0) out = `${d} d${h ? ` ${h} h` : ""}`;
    else if (h > 0) out = `${h} h${m ? ` ${m} min` : ""}`;
    else out = `${m} min${s ? ` ${s} s` : ""}`;
  }
  return neg ? `-${out}` : out;
}

/** A point in time: relative to `now` in the text, exact (UTC) in the tooltip and datetime. */
export function when(iso: string | undefined | null, now: Date): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return html`<span>${iso}</span>`;
  const diff = t - now.getTime();
  const rel =
    Math.abs(diff) < 1000 ? "just now" : diff < 0 ? `${duration(-diff)} ago` : `in ${duration(diff)}`;
  return html`<time datetime="${iso}" title="${iso}">${rel}</time>`;
}

/** Parses `90s`, `20m`, `2h`, `3d`, `1h30m` (the spec's duration syntax) into seconds; null if not one. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (!/^(\d+[smhd])+$/.test(t)) return null;
  let total = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([smhd])/g)) {
    total += Number(n) * ({ s: 1, m: 60, h: 3600, d: 86_400 } as const)[unit as "s" | "m" | "h" | "d"];
  }
  return total > 0 ? total : null;
}
