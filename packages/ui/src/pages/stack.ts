// The stack page: the diagram with the current state and the path taken, tasks, outputs,
// metadata, timers, deferred events, actions and the history as a timeline.
import {
  failureSummary,
  failureText,
  type GraphModel,
  type Machine,
  type Stack,
  type StackTask,
} from "@stackseam/core";
import type { HistoryEntry, HistoryPage, TimerRow } from "@stackseam/state-manager";
import { DASHBOARD_KEY_PREFIX, type Offer } from "../actions.js";
import { machineDiagram } from "../diagram.js";
import { duration, when } from "../format.js";
import { block, type Html, href, html, text } from "../html.js";
import { type PageContext, page } from "./layout.js";

export interface StackView {
  id: string;
  stack: Stack | null;
  machine: Machine | null;
  graph: GraphModel | null;
  history: HistoryPage;
  /** The history page asked for (older rows), if any. */
  before?: number;
  timers: TimerRow[];
  offers: Offer[];
  /** The newest history id of this stack: what a confirmation is based on. */
  seen: number;
  /** The event key of an action just sent from this page (after the redirect). */
  sent?: string;
}

/**
 * States visited and transitions taken by the live stack, from its applied history rows (newest
 * first) back to the row that created it: an id used again after a removal starts a new path.
 */
export function pathTaken(
  rows: readonly HistoryEntry[],
  stack: Stack | null,
  initial: string | null,
): { visited: Set<string>; taken: Set<string> } {
  const visited = new Set<string>();
  const taken = new Set<string>();
  if (!stack) return { visited, taken };
  for (const r of rows) {
    if (r.outcome !== "applied" || r.duplicate) continue;
    const start = r.from ?? initial;
    const seq = [start, ...(r.path.length ? r.path : r.to && r.to !== start ? [r.to] : [])].filter(
      (s): s is string => typeof s === "string",
    );
    for (let i = 0; i < seq.length; i++) {
      visited.add(seq[i]!);
      if (i > 0) taken.add(`${seq[i - 1]}\u0000${seq[i]}`);
    }
    if (r.from === null) break;
  }
  visited.add(stack.state);
  return { visited, taken };
}

function failure(description: string, label = "full text"): Html {
  return html`<div class="error-line">${text(failureSummary(description), 400)}</div><details class="full"><summary>${label}</summary><pre>${block(failureText(description, { full: true }))}</pre></details>`;
}

function taskDuration(t: StackTask, now: Date): string {
  if (!t.dispatchedAt) return "—";
  const end = t.finishedAt ? Date.parse(t.finishedAt) : now.getTime();
  return `${duration(end - Date.parse(t.dispatchedAt))}${t.finishedAt ? "" : " so far"}`;
}

function tasksSection(stack: Stack, ctx: PageContext): Html {
  if (stack.tasks.length === 0)
    return html`<section class="card"><h2>Tasks</h2><p class="muted">None: ${stack.state} runs no task.</p></section>`;
  return html`<section class="card"><h2>Tasks</h2><table class="tasks"><thead><tr><th>Task</th><th>Status</th><th>Attempt</th><th>Duration</th><th>Dispatched</th><th>Next</th></tr></thead><tbody>${stack.tasks.map(
    (t) =>
      html`<tr class="task" data-task="${t.name}"><td>${t.name}</td><td><span class="status ${t.status}">${t.status}</span></td><td>${t.attempt}</td><td>${taskDuration(t, ctx.now)}</td><td>${when(t.dispatchedAt, ctx.now)}</td><td>${
        t.retryAt
          ? html`retry ${when(t.retryAt, ctx.now)}`
          : t.deadline
            ? html`times out ${when(t.deadline, ctx.now)}`
            : html`<span class="muted">—</span>`
      }</td></tr>${t.description ? html`<tr class="task-error"><td colspan="6">${failure(t.description)}</td></tr>` : null}`,
  )}</tbody></table></section>`;
}

function outputValue(value: unknown): Html {
  const shown = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return shown.length > 200 || shown.includes("\n")
    ? html`<details><summary>${text(shown, 80)}</summary><pre>${block(shown)}</pre></details>`
    : html`<code>${text(shown, 200)}</code>`;
}

function outputsSection(stack: Stack): Html | null {
  const outputs = Object.entries(stack.outputs ?? {});
  if (outputs.length === 0) return null;
  return html`<section class="card"><h2>Outputs</h2><table class="kv"><thead><tr><th>Task</th><th>Output</th><th>Value</th></tr></thead><tbody>${outputs.map(
    ([task, values]) =>
      html`${Object.entries(values).map(
        ([name, v]) =>
          html`<tr><td>${task}</td><td>${text(name, 128)}</td><td>${
            // A sensitive output is kept by name only; even if a value slipped in, it is never shown.
            v.sensitive !== false
              ? html`<span class="muted sensitive">sensitive: not shown</span>`
              : outputValue(v.value)
          }</td></tr>`,
      )}`,
  )}</tbody></table></section>`;
}

function metadataSection(stack: Stack): Html {
  const entries = Object.entries(stack.metadata);
  return html`<section class="card"><h2>Metadata</h2>${
    entries.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<table class="kv metadata"><tbody>${entries.map(
          ([k, v]) =>
            html`<tr><th scope="row">${text(k, 128)}</th><td>${typeof v === "string" ? html`<span class="value">${text(v, 2000)}</span>` : html`<code>${JSON.stringify(v)}</code>`}</td></tr>`,
        )}</tbody></table>`
  }</section>`;
}

function timersSection(stack: Stack, timers: TimerRow[], ctx: PageContext): Html | null {
  const rows: { name: string; due: string }[] = timers.map((t) => ({ name: t.name, due: t.dueAt }));
  // Without a timers table the stack's own fields still tell the due times they hold.
  if (timers.length === 0) {
    for (const t of stack.tasks) {
      if (t.deadline && t.status === "PENDING") rows.push({ name: `timeout:${t.name}`, due: t.deadline });
      if (t.retryAt && t.status === "ERROR") rows.push({ name: `retry:${t.name}`, due: t.retryAt });
    }
  }
  const ttl = stack.ttl;
  if (rows.length === 0 && !ttl && !stack.ttlWarnedFor) return null;
  return html`<section class="card"><h2>Timers and TTL</h2>${
    rows.length
      ? html`<table class="kv"><tbody>${rows.map((r) => html`<tr><th scope="row">${r.name}</th><td>${when(r.due, ctx.now)} <span class="muted">${r.due}</span></td></tr>`)}</tbody></table>`
      : null
  }${
    ttl
      ? html`<p>${"exempt" in ttl ? "TTL: exempt (EXTEND_TTL)" : html`TTL extended until ${when(ttl.until, ctx.now)}`}</p>`
      : null
  }${stack.ttlWarnedFor ? html`<p class="muted">TTL warning sent for ${stack.ttlWarnedFor}</p>` : null}</section>`;
}

function deferredSection(stack: Stack, ctx: PageContext): Html | null {
  const deferred = stack.deferred ?? [];
  if (deferred.length === 0) return null;
  return html`<section class="card"><h2>Deferred events</h2><p class="muted">Kept, oldest first, until a state handles them.</p><table class="kv"><thead><tr><th>Event</th><th>Deferred</th><th>Metadata</th><th>Key</th></tr></thead><tbody>${deferred.map(
    (d) =>
      html`<tr><td>${d.name}</td><td>${when(d.at, ctx.now)}</td><td>${Object.entries(d.metadata ?? {}).map(([k, v]) => html`<code>${text(k, 64)}=${text(String(v), 200)}</code> `)}</td><td class="muted">${text(d.key, 80)}</td></tr>`,
  )}</tbody></table></section>`;
}

function actionsSection(view: StackView, ctx: PageContext): Html | null {
  if (!view.stack) return null;
  if (ctx.readOnly)
    return html`<section class="card actions"><h2>Actions</h2><p class="muted">Read-only dashboard: no actions.</p></section>`;
  if (view.offers.length === 0) return null;
  return html`<section class="card actions"><h2>Actions</h2><div class="buttons">${view.offers.map(
    (o) =>
      html`<a class="button${o.danger ? " danger" : ""}" data-action="${o.kind}" data-event="${o.event}" href="${href(["stacks", view.id, "confirm"], { action: o.kind, event: o.kind === "event" ? o.event : undefined, seen: view.seen })}">${o.label}</a>`,
  )}</div></section>`;
}

function historyTarget(h: HistoryEntry): Html {
  if (h.detail?.removed === true)
    return html`${h.path.length ? `${h.path.join(" → ")} → ` : ""}<em>removed</em>`;
  if (h.path.length > 1) return html`${h.path.join(" → ")}`;
  return html`${h.to ?? "—"}`;
}

function historyDetail(h: HistoryEntry): Html {
  const description = typeof h.detail?.description === "string" ? h.detail.description : null;
  const parts: Html[] = [];
  if (h.task) parts.push(html`<span class="task-name">task ${h.task}</span> `);
  if (description && h.outcome === "applied") parts.push(failure(description));
  const note = h.reason ?? (typeof h.detail?.note === "string" ? h.detail.note : null);
  if (note) parts.push(html`<span class="reason">${text(note, 1000)}</span>`);
  return html`${parts}`;
}

function historyRow(h: HistoryEntry, ctx: PageContext): Html {
  const outcome = h.duplicate ? "duplicate" : h.outcome;
  const fromDashboard = h.eventKey.startsWith(DASHBOARD_KEY_PREFIX);
  return html`<li class="event ${outcome}" data-history-id="${h.id}"><div class="when">${when(h.at, ctx.now)}</div><div class="what"><span class="event-name">${text(h.event ?? "?", 80)}</span> <span class="outcome ${outcome}">${outcome}</span>${
    fromDashboard ? html` <span class="badge origin" title="sent from the dashboard">dashboard</span>` : null
  }${
    h.outcome === "applied" && (h.to || h.path.length)
      ? html` <span class="move">${h.from ?? "—"} → ${historyTarget(h)}</span>`
      : null
  }</div><div class="detail">${historyDetail(h)}</div><div class="key muted" title="event key">${text(h.eventKey, 80)}</div></li>`;
}

function historySection(view: StackView, ctx: PageContext): Html {
  const rows = view.history.rows;
  return html`<section class="card history"><h2>History</h2>${
    rows.length === 0
      ? html`<p class="muted">No events recorded for this stack.</p>`
      : html`<ol class="timeline">${rows.map((h) => historyRow(h, ctx))}</ol>`
  }<nav class="pager">${view.before !== undefined ? html`<a href="${href(["stacks", view.id])}">newest</a> ` : null}${
    view.history.older !== null
      ? html`<a class="older" href="${href(["stacks", view.id], { before: view.history.older })}">older events →</a>`
      : null
  }</nav></section>`;
}

/** Renders a stack's page (also for a removed stack: its history stays). */
export function stackPage(ctx: PageContext, view: StackView): string {
  const s = view.stack;
  const marks = view.graph ? pathTaken(view.history.rows, s, view.graph.initial) : null;
  const head = s
    ? html`<header class="stack-head"><h1><span class="muted">stack</span> <span class="stack-id">${text(view.id, 128)}</span></h1>
<dl class="facts"><div><dt>Machine</dt><dd><a href="${href(["machines", s.machine], s.version ? { version: s.version } : {})}">${s.machine}</a>${s.version ? html` <span class="muted" title="machine version">@${s.version.slice(0, 8)}</span>` : null}</dd></div>
<div><dt>State</dt><dd><span class="state current-state">${s.state}</span></dd></div>
<div><dt>Entered</dt><dd>${s.enteredAt ? when(s.enteredAt, ctx.now) : html`<span class="muted">—</span>`}</dd></div>
<div><dt>Updated</dt><dd>${when(s.updatedAt, ctx.now)}</dd></div>
<div><dt>Created</dt><dd>${when(s.createdAt, ctx.now)}</dd></div>
${s.activeAt ? html`<div><dt>Last active</dt><dd>${when(s.activeAt, ctx.now)}</dd></div>` : null}</dl></header>`
    : html`<header class="stack-head"><h1><span class="muted">stack</span> <span class="stack-id">${text(view.id, 128)}</span></h1><p class="notice">This stack does not exist now: it was never created, or it reached a terminal state and was removed. Its history stays.</p></header>`;
  const sent = view.sent
    ? html`<p class="flash" role="status">Sent (event key <code>${text(view.sent, 100)}</code>): it appears in the history once the State Manager has applied it.</p>`
    : null;
  const diagram =
    view.graph && marks && s
      ? html`<section class="card diagram-card"><h2>Machine</h2>${machineDiagram(view.graph, {
          id: "stack",
          current: s.state,
          visited: marks.visited,
          taken: marks.taken,
          link: (state) => href(["stacks"], { machine: s.machine, state }),
        })}</section>`
      : s
        ? html`<section class="card"><h2>Machine</h2><p class="muted">The spec of ${s.machine}${s.version ? ` version ${s.version}` : ""} is not available to the dashboard.</p></section>`
        : null;
  const body = html`${head}${sent}${actionsSection(view, ctx)}${diagram}${
    s
      ? html`${tasksSection(s, ctx)}${outputsSection(s)}${metadataSection(s)}${timersSection(s, view.timers, ctx)}${deferredSection(s, ctx)}`
      : null
  }${historySection(view, ctx)}`;
  return page(ctx, { title: `Stack ${text(view.id, 64)}`, section: "stacks", body, scope: view.id });
}
