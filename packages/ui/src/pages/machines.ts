// The machines page: each machine's diagram with live counts per state, its events, tasks,
// versions and spec source.
import { machineGraphModel } from "@stackseam/core";
import type { StateCount } from "@stackseam/state-manager";
import type { MachineEntry } from "../data.js";
import { machineDiagram } from "../diagram.js";
import { when } from "../format.js";
import { block, type Html, href, html } from "../html.js";
import { type PageContext, page } from "./layout.js";

function countsOf(
  counts: readonly StateCount[],
  machine: string,
): Map<string, { stacks: number; failed: number }> {
  return new Map(
    counts.filter((c) => c.machine === machine).map((c) => [c.state, { stacks: c.stacks, failed: c.failed }]),
  );
}

function machineCard(
  ctx: PageContext,
  m: MachineEntry,
  counts: readonly StateCount[],
  index: number,
  source: string | null,
  version?: string,
): Html {
  const machine = m.machine;
  const live = countsOf(counts, m.name);
  const total = [...live.values()].reduce((a, c) => a + c.stacks, 0);
  const shownVersion = version ?? machine?.version;
  return html`<section class="card machine" id="machine-${m.name}"><h2><a href="${href(["machines", m.name])}">${m.name}</a> <span class="muted">${total.toLocaleString("en")} live stack${total === 1 ? "" : "s"}</span>${shownVersion ? html` <span class="muted" title="version shown">@${shownVersion.slice(0, 8)}</span>` : null}</h2>${
    machine
      ? html`${machineDiagram(machineGraphModel(machine), {
          id: `m${index}`,
          counts: live,
          link: (state) => href(["stacks"], { machine: m.name, state }),
        })}
<div class="columns"><div><h3>Events</h3><ul class="plain">${[...machine.events].map((e) => html`<li><code>${e}</code></li>`)}</ul></div>
<div><h3>Tasks</h3><ul class="plain">${[...machine.tasks].map(([name, t]) => html`<li><code>${name}</code> <span class="muted">${t.executor}</span></li>`)}</ul></div>
<div><h3>Versions</h3>${
          m.versions.length
            ? html`<table class="kv versions"><thead><tr><th>Version</th><th>First used</th><th>Stacks</th></tr></thead><tbody>${m.versions.map(
                (v) =>
                  html`<tr${v.version === shownVersion ? html` class="shown"` : null}><td><a href="${href(["machines", m.name], { version: v.version })}"><code>${v.version.slice(0, 12)}</code></a></td><td>${when(v.firstUsedAt, ctx.now)}</td><td>${v.stacks}</td></tr>`,
              )}</tbody></table>`
            : html`<p class="muted">No stored version yet (stored on first use).</p>`
        }</div></div>
${source !== null ? html`<details class="source"><summary>Spec source${machine.file ? html` <span class="muted">${machine.file}</span>` : null}</summary><pre>${block(source)}</pre></details>` : null}`
      : html`<p class="muted">Cannot draw ${m.name}: ${m.problem ?? "unknown"}.</p>`
  }</section>`;
}

/** Renders the machines page (all machines, or one with a chosen version). */
export function machinesPage(
  ctx: PageContext,
  entries: MachineEntry[],
  counts: readonly StateCount[],
  one?: { version?: string },
): string {
  const body = entries.length
    ? html`${entries.map((m, i) => machineCard(ctx, m, counts, i, m.machine?.source ?? (m.machine ? JSON.stringify(m.machine.spec, null, 2) : null), one?.version))}`
    : html`<p class="empty">No machines yet: a machine appears once a stack has used it (or in dev, from its specs folder).</p>`;
  return page(ctx, {
    title: entries.length === 1 && one ? `Machine ${entries[0]?.name}` : "Machines",
    section: "machines",
    body,
  });
}
