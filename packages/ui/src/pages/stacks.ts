// The stacks page: counts per machine and state, filters, sortable columns, keyset pages.
import { failureSummary, type Stack } from "@stackseam/core";
import type { StackFilter, StackPage, StackSort, StateCount } from "@stackseam/state-manager";
import { when } from "../format.js";
import { type Html, href, html, text } from "../html.js";
import { type PageContext, page } from "./layout.js";

/** The stacks page's query, as parsed from its URL. */
export interface StacksQuery extends StackFilter {
  sort: StackSort;
  after?: string;
  limit: number;
  /** The idle filter as typed (`2h`), kept for the form and the links. */
  idle?: string;
}

export interface StacksView {
  query: StacksQuery;
  counts: StateCount[];
  page: StackPage;
  matching: { count: number; capped: boolean };
}

/** The query string of the current filters with some entries changed (undefined removes one). */
function link(q: StacksQuery, change: Record<string, string | undefined>): string {
  const base: Record<string, string | undefined> = {
    machine: q.machine,
    state: q.state,
    failed: q.failed ? "1" : undefined,
    idle: q.idle,
    q: q.text,
    sort: q.sort === "id" ? undefined : q.sort,
    limit: q.limit === 50 ? undefined : String(q.limit),
  };
  return href(["stacks"], { ...base, ...change });
}

function tasksCell(s: Stack, now: Date): Html {
  if (s.tasks.length === 0) return html`<span class="muted">—</span>`;
  const done = s.tasks.filter((t) => t.status === "SATISFIED").length;
  const failed = s.tasks.filter((t) => t.status === "ERROR");
  const first = failed[0];
  const pending = s.tasks.find((t) => t.status === "PENDING" && t.dispatchedAt);
  return html`<span>${done}/${s.tasks.length} done</span>${
    failed.length
      ? html` <span class="status ERROR">${failed.length} failed</span>${
          first?.description
            ? html`<div class="error-line">${first.name}: ${text(failureSummary(first.description), 200)}</div>`
            : null
        }`
      : null
  }${pending?.dispatchedAt ? html` <span class="muted">running since ${when(pending.dispatchedAt, now)}</span>` : null}`;
}

/**
 * A sortable column header: the first click sorts by `first`, a click on the active header switches
 * to `second`. Direction comes from the sort's name (`-active`, newest first, is descending).
 */
function sortHeader(q: StacksQuery, label: string, first: StackSort, second?: StackSort): Html {
  const active = q.sort === first || q.sort === second;
  const next = second !== undefined && q.sort === first ? second : first;
  const descending = q.sort.startsWith("-");
  const arrow = !active ? "" : descending ? " ↓" : " ↑";
  return html`<th scope="col"${active ? html` aria-sort="${descending ? "descending" : "ascending"}"` : null}><a href="${link(q, { sort: next === "id" ? undefined : next, after: undefined })}">${label}${arrow}</a></th>`;
}

function countsPanel(view: StacksView): Html {
  const machines = new Map<string, StateCount[]>();
  for (const c of view.counts) machines.set(c.machine, [...(machines.get(c.machine) ?? []), c]);
  if (machines.size === 0)
    return html`<section class="counts"><p class="muted">No live stacks.</p></section>`;
  const q = view.query;
  return html`<section class="counts" aria-label="stacks per machine and state">${[...machines].map(
    ([machine, states]) => {
      const total = states.reduce((a, s) => a + s.stacks, 0);
      return html`<div class="count-row"><a class="machine${q.machine === machine && !q.state ? " active" : ""}" href="${link(q, { machine, state: undefined, after: undefined })}">${machine} <b>${total.toLocaleString("en")}</b></a>${states.map(
        (s) =>
          html`<a class="chip${q.machine === machine && q.state === s.state ? " active" : ""}" href="${link(q, { machine, state: s.state, after: undefined })}">${s.state} <b>${s.stacks.toLocaleString("en")}</b>${s.failed ? html` <span class="status ERROR" title="with a failed task">${s.failed} failed</span>` : null}</a>`,
      )}</div>`;
    },
  )}</section>`;
}

/** The filter form; outside the live region so typing is never interrupted by an update. */
function filters(view: StacksView): Html {
  const q = view.query;
  const machines = [...new Set(view.counts.map((c) => c.machine))];
  if (q.machine && !machines.includes(q.machine)) machines.push(q.machine);
  const states = [
    ...new Set(view.counts.filter((c) => !q.machine || c.machine === q.machine).map((c) => c.state)),
  ];
  if (q.state && !states.includes(q.state)) states.push(q.state);
  return html`<form class="filters" method="get" action="/stacks" role="search">
  <label>Search <input type="search" name="q" value="${q.text ?? ""}" placeholder="id or metadata value" maxlength="200"></label>
  <label>Machine <select name="machine"><option value="">any</option>${machines.map(
    (m) => html`<option value="${m}"${q.machine === m ? html` selected` : null}>${m}</option>`,
  )}</select></label>
  <label>State <select name="state"><option value="">any</option>${states.map(
    (s) => html`<option value="${s}"${q.state === s ? html` selected` : null}>${s}</option>`,
  )}</select></label>
  <label class="check"><input type="checkbox" name="failed" value="1"${q.failed ? html` checked` : null}> failed task</label>
  <label>Idle longer than <input type="text" name="idle" value="${q.idle ?? ""}" placeholder="2h, 3d" size="6" pattern="(\\d+[smhd])+"></label>
  ${q.sort !== "id" ? html`<input type="hidden" name="sort" value="${q.sort}">` : null}
  <button type="submit">Filter</button>
  <a class="reset" href="/stacks">Reset</a>
</form>`;
}

/** Renders the stacks page. */
export function stacksPage(ctx: PageContext, view: StacksView): string {
  const q = view.query;
  const rows = view.page.stacks;
  const filtered = q.machine || q.state || q.failed || q.idle || q.text;
  const matching = `${view.matching.count.toLocaleString("en")}${view.matching.capped ? "+" : ""}`;
  const body = html`${countsPanel(view)}
<section class="list">
  <p class="summary"><span id="match-count">${matching}</span> ${filtered ? "matching" : "live"} stack${view.matching.count === 1 && !view.matching.capped ? "" : "s"}${q.after ? html` · <a href="${link(q, { after: undefined })}">first page</a>` : null}</p>
  ${
    rows.length === 0
      ? html`<p class="empty">No stacks${filtered ? " match these filters" : " yet"}.</p>`
      : html`<table class="stacks">
  <thead><tr>${sortHeader(q, "Stack", "id")}<th scope="col">Machine</th><th scope="col">State</th><th scope="col">Tasks</th>${sortHeader(q, "Last active", "-active", "active")}<th scope="col">Updated</th></tr></thead>
  <tbody>${rows.map(
    (s) => html`<tr data-stack="${s.id}">
    <td><a class="stack-link" href="${href(["stacks", s.id])}">${text(s.id, 128)}</a></td>
    <td>${s.machine}</td>
    <td><span class="state">${s.state}</span></td>
    <td>${tasksCell(s, ctx.now)}</td>
    <td>${when(s.activeAt ?? s.updatedAt, ctx.now)}</td>
    <td>${when(s.updatedAt, ctx.now)}</td>
  </tr>`,
  )}</tbody>
</table>`
  }
  <nav class="pager" aria-label="pages">${
    view.page.next
      ? html`<a class="next" rel="next" href="${link(q, { after: view.page.next })}">Next ${q.limit} →</a>`
      : html`<span class="muted">last page</span>`
  }</nav>
</section>`;
  return page(ctx, { title: "Stacks", section: "stacks", body, before: filters(view) });
}
