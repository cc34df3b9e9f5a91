// One SVG renderer for machine diagrams, drawn on the server from core's graph model: no client
// library, no inline style (the CSP forbids it), every name escaped.
import type { GraphModel } from "@stackseam/core";
import { type Html, html, raw } from "./html.js";

/** What to light up on a diagram. */
export interface DiagramMarks {
  /** The stack's current state. */
  current?: string;
  /** States the stack passed through and the transitions it took (`from\u0000to`). */
  visited?: ReadonlySet<string>;
  taken?: ReadonlySet<string>;
  /** Live stacks per state, and how many of them have a failed task. */
  counts?: ReadonlyMap<string, { stacks: number; failed: number }>;
  /** Where a state's box links to. */
  link?: (state: string) => string;
  /** Distinguishes marker ids when a page holds several diagrams. */
  id: string;
}

interface Box {
  name: string;
  tasks: string[];
  terminal: boolean;
  rank: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

const CHAR_W = 7.4;
const TASK_CHAR_W = 6.2;
const COL_GAP = 110;
const ROW_GAP = 46;
const PAD = 24;

/** Ranks by breadth-first distance from the initial state; states it cannot reach go last. */
function ranks(model: GraphModel): Map<string, number> {
  const out = new Map<string, number>();
  const next = new Map<string, string[]>();
  for (const e of model.edges) if (!e.noop) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const start = model.initial ?? model.states[0]?.name;
  if (start !== undefined) {
    out.set(start, 0);
    const queue = [start];
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      for (const t of next.get(s) ?? []) {
        if (!out.has(t)) {
          out.set(t, (out.get(s) ?? 0) + 1);
          queue.push(t);
        }
      }
    }
  }
  const last = Math.max(0, ...out.values()) + 1;
  for (const s of model.states) if (!out.has(s.name)) out.set(s.name, last);
  return out;
}

/** Boxes placed in columns by rank, ordered in each column by their predecessors' positions. */
function layout(model: GraphModel): { boxes: Map<string, Box>; width: number; height: number } {
  const rank = ranks(model);
  const columns: string[][] = [];
  for (const s of model.states) {
    const r = rank.get(s.name) ?? 0;
    const column = columns[r] ?? [];
    column.push(s.name);
    columns[r] = column;
  }
  const dense = columns.filter((c) => c !== undefined && c.length > 0);
  const order = new Map<string, number>();
  const number = (col: string[]) => {
    for (const [i, n] of col.entries()) order.set(n, i);
  };
  for (const col of dense) number(col);
  // Two sweeps of the barycentre heuristic keep most edges from crossing on small machines.
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const col of dense.slice(1)) {
      const weight = (n: string) => {
        const preds = model.edges
          .filter((e) => e.to === n && e.from !== n)
          .map((e) => order.get(e.from) ?? 0);
        return preds.length ? preds.reduce((a, b) => a + b, 0) / preds.length : (order.get(n) ?? 0);
      };
      const w = new Map(col.map((n) => [n, weight(n)]));
      col.sort((a, b) => (w.get(a) ?? 0) - (w.get(b) ?? 0));
      number(col);
    }
  }
  const spec = new Map(model.states.map((s) => [s.name, s]));
  const boxes = new Map<string, Box>();
  let x = PAD + 22;
  const heights: number[] = [];
  const colBoxes: Box[][] = [];
  dense.forEach((col, r) => {
    const list = col.map((name) => {
      const s = spec.get(name);
      const tasks = s?.tasks ?? [];
      const taskLine = tasks.length ? `▸ ${tasks.join(", ")}` : "";
      const w = Math.max(96, name.length * CHAR_W + 28, taskLine.length * TASK_CHAR_W + 20);
      return { name, tasks, terminal: s?.terminal ?? false, rank: r, x, y: 0, w, h: tasks.length ? 48 : 34 };
    });
    const colW = Math.max(...list.map((b) => b.w));
    for (const b of list) b.x = x + (colW - b.w) / 2;
    x += colW + COL_GAP;
    heights.push(list.reduce((a, b) => a + b.h, 0) + ROW_GAP * (list.length - 1));
    colBoxes.push(list);
  });
  const tallest = Math.max(0, ...heights);
  const top = PAD + 34;
  colBoxes.forEach((list, i) => {
    let y = top + (tallest - (heights[i] ?? 0)) / 2;
    for (const b of list) {
      b.y = y;
      y += b.h + ROW_GAP;
      boxes.set(b.name, b);
    }
  });
  return { boxes, width: x - COL_GAP + PAD, height: top + tallest + PAD };
}

interface Route {
  from: string;
  to: string;
  labels: string[];
  noop: boolean;
}

const num = (n: number) => Math.round(n * 10) / 10;

/** Draws a machine as an SVG diagram, with the marks (current state, path, counts) lit. */
export function machineDiagram(model: GraphModel, given: DiagramMarks): Html {
  const marks = { ...given, id: given.id.replace(/[^A-Za-z0-9_-]/g, "_") };
  const { boxes, width, height } = layout(model);
  const routes = new Map<string, Route>();
  for (const e of model.edges) {
    const key = `${e.from}\u0000${e.to}`;
    const r = routes.get(key) ?? { from: e.from, to: e.to, labels: [], noop: true };
    r.labels.push(e.noop ? `${e.event} (no-op)` : e.event);
    r.noop &&= e.noop;
    routes.set(key, r);
  }
  const edgeParts: Html[] = [];
  let maxY = height;
  // Backward transitions nest underneath: the shortest innermost, so they do not cross each other.
  const levels = new Map<string, number>();
  const backward = [...routes]
    .filter(([, r]) => r.from !== r.to && (boxes.get(r.to)?.rank ?? 0) <= (boxes.get(r.from)?.rank ?? 0))
    .map(([key, r]) => ({ key, span: Math.abs((boxes.get(r.from)?.x ?? 0) - (boxes.get(r.to)?.x ?? 0)) }))
    .sort((p, q) => p.span - q.span);
  for (const [i, b] of backward.entries()) levels.set(b.key, i + 1);
  for (const [key, r] of routes) {
    const a = boxes.get(r.from);
    const b = boxes.get(r.to);
    if (!a || !b) continue;
    const taken = marks.taken?.has(key) ?? false;
    const cls = `edge${taken ? " taken" : ""}${r.noop ? " noop" : ""}`;
    const marker = `url(#${marks.id}-${taken ? "arrow-taken" : "arrow"})`;
    const label = r.labels.join(", ");
    let d: string;
    let lx: number;
    let ly: number;
    if (r.from === r.to) {
      const x1 = a.x + a.w * 0.3;
      const x2 = a.x + a.w * 0.7;
      d = `M${num(x1)},${num(a.y)} C${num(x1 - 10)},${num(a.y - 34)} ${num(x2 + 10)},${num(a.y - 34)} ${num(x2)},${num(a.y - 2)}`;
      lx = a.x + a.w / 2;
      ly = a.y - 30;
    } else if (b.rank > a.rank) {
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x - 2;
      const y2 = b.y + b.h / 2;
      const dx = Math.max(30, (x2 - x1) / 2);
      d = `M${num(x1)},${num(y1)} C${num(x1 + dx)},${num(y1)} ${num(x2 - dx)},${num(y2)} ${num(x2)},${num(y2)}`;
      lx = (x1 + x2) / 2;
      ly = (y1 + y2) / 2 - 6;
    } else {
      // Backward (or same-column) transitions run underneath every box they pass, each a little
      // lower than the last so their labels do not overlap.
      const below = levels.get(key) ?? 1;
      const x1 = a.x + a.w / 2;
      const y1 = a.y + a.h;
      const x2 = b.x + b.w / 2;
      const y2 = b.y + b.h + 2;
      const lo = Math.min(a.rank, b.rank);
      const hi = Math.max(a.rank, b.rank);
      const floor = Math.max(
        y1,
        y2,
        ...[...boxes.values()].filter((x) => x.rank >= lo && x.rank <= hi).map((x) => x.y + x.h),
      );
      const dip = floor + 10 + below * 26;
      d = `M${num(x1)},${num(y1)} C${num(x1)},${num(dip)} ${num(x2)},${num(dip)} ${num(x2)},${num(y2)}`;
      // The curve's midpoint (t = 1/2), just under the line.
      lx = (x1 + x2) / 2;
      ly = (y1 + y2) / 8 + (dip * 3) / 4 + 13;
      maxY = Math.max(maxY, ly + 12);
    }
    edgeParts.push(
      html`<g class="${cls}"><path d="${d}" marker-end="${marker}"/><text class="edge-label" x="${num(lx)}" y="${num(ly)}" text-anchor="middle">${label}</text></g>`,
    );
  }

  const nodeParts: Html[] = [];
  if (model.initial !== null) {
    const init = boxes.get(model.initial);
    if (init) {
      const cy = init.y + init.h / 2;
      nodeParts.push(
        html`<g class="start"><circle cx="${num(init.x - 20)}" cy="${num(cy)}" r="6"/><path class="edge" d="M${num(init.x - 14)},${num(cy)} L${num(init.x - 2)},${num(cy)}" marker-end="url(#${marks.id}-arrow)"/></g>`,
      );
    }
  }
  for (const b of boxes.values()) {
    const classes = ["state"];
    if (b.terminal) classes.push("terminal");
    if (marks.visited?.has(b.name)) classes.push("visited");
    if (marks.current === b.name) classes.push("current");
    const count = marks.counts?.get(b.name);
    const countBadge =
      count && count.stacks > 0
        ? html`<g class="count${count.failed > 0 ? " has-failed" : ""}"><rect x="${num(b.x + b.w - 16)}" y="${num(b.y - 10)}" width="${Math.max(22, String(count.stacks).length * 7 + 12)}" height="18" rx="9"/><text x="${num(b.x + b.w - 16 + Math.max(22, String(count.stacks).length * 7 + 12) / 2)}" y="${num(b.y + 3)}" text-anchor="middle">${count.stacks}</text></g>`
        : null;
    const tasks = b.tasks.length
      ? html`<text class="tasks" x="${num(b.x + b.w / 2)}" y="${num(b.y + 36)}" text-anchor="middle">▸ ${b.tasks.join(", ")}</text>`
      : null;
    const inner = html`<rect x="${num(b.x)}" y="${num(b.y)}" width="${num(b.w)}" height="${b.h}" rx="8"/>${
      b.terminal
        ? html`<rect class="inner" x="${num(b.x + 3)}" y="${num(b.y + 3)}" width="${num(b.w - 6)}" height="${b.h - 6}" rx="6"/>`
        : null
    }<text class="name" x="${num(b.x + b.w / 2)}" y="${num(b.y + 21)}" text-anchor="middle">${b.name}</text>${tasks}${countBadge}`;
    const title = html`<title>${b.name}${b.tasks.length ? ` — tasks: ${b.tasks.join(", ")}` : ""}${
      count ? ` — ${count.stacks} stack(s)${count.failed ? `, ${count.failed} with a failed task` : ""}` : ""
    }${marks.current === b.name ? " — current state" : ""}</title>`;
    const link = marks.link?.(b.name);
    nodeParts.push(
      link
        ? html`<a href="${link}" class="${classes.join(" ")}" data-state="${b.name}">${title}${inner}</a>`
        : html`<g class="${classes.join(" ")}" data-state="${b.name}">${title}${inner}</g>`,
    );
  }
  const defs = raw(
    ["arrow", "arrow-taken"]
      .map(
        (name) =>
          `<marker id="${marks.id}-${name}" class="${name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`,
      )
      .join(""),
  );
  const h = num(maxY);
  return html`<svg class="diagram" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${num(width)} ${h}" width="${num(width)}" height="${h}" role="img" aria-label="state diagram of machine ${model.machine}"><defs>${defs}</defs>${edgeParts}${nodeParts}</svg>`;
}
