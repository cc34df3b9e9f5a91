import type { MachineDiff } from "@stackseam/core";
import type { Style } from "../colour.js";
import { type Cell, cell, indent, table } from "../table.js";
import type { Assessment } from "./assess.js";
import type { GroupImpact, Impact } from "./impact.js";

const CHANGE_STYLE: Record<string, Style> = { removed: "red", added: "green", changed: "yellow" };

/** How a group of stacks fares on upgrade, in a table cell. */
function upgradeCell(g: GroupImpact, to: string): Cell {
  if (g.onTarget) return { text: `runs ${to}`, style: "dim" };
  if (g.problems.length === 0)
    return g.group.version === null ? "runs it from its next event" : { text: "can move", style: "green" };
  const prefix = g.group.version === null ? "stranded at its next event" : "stranded";
  return { text: cell(`${prefix}: ${g.problems.join("; ")}`, 400), style: "red" };
}

function sampleCell(g: GroupImpact): string {
  const more = g.group.count > g.group.sample.length ? ", …" : "";
  return cell(`${g.group.sample.join(", ")}${more}`, 60);
}

/** The semantic change table: one row per change, with the live stacks it touches when known. */
export function renderChanges(diff: MachineDiff, impact: Impact | null): string {
  const counts = impact?.changes;
  return table(
    ["change", "what", "detail", ...(counts ? ["stacks"] : [])],
    diff.changes.map((c, i) => {
      const row: Cell[] = [
        { text: c.change, style: CHANGE_STYLE[c.change] },
        cell(`${c.subject} ${c.name}`, 80),
        cell(c.detail ?? "", 80),
      ];
      if (counts) row.push(String(counts[i]?.stacks ?? 0));
      return row;
    }),
  );
}

/** The live stacks by version and state, and whether each group could move to the new version. */
export function renderGroups(impact: Impact): string {
  const to = impact.to.version;
  return table(
    ["version", "state", "tasks", "stacks", "ids", "on upgrade"],
    impact.groups.map((g) => [
      g.group.version ?? "(none)",
      g.group.state,
      g.group.tasks.length === 0
        ? "-"
        : cell(g.group.tasks.map((t) => `${t.name}:${t.status}`).join(", "), 60),
      String(g.group.count),
      sampleCell(g),
      upgradeCell(g, to),
    ]),
  );
}

/** One line saying what the new version means for the live stacks. */
export function impactSummary(impact: Impact): string {
  const to = impact.to.version;
  if (impact.live === 0) return `no live stacks run machine ${impact.to.name}`;
  const lines: string[] = [];
  const stranded = impact.stranded + impact.unpinnedStranded;
  lines.push(
    stranded === 0
      ? `every live stack (${impact.live}) can run version ${to}`
      : `${stranded} of ${impact.live} live stack(s) would be stranded on upgrade to version ${to}`,
  );
  if (impact.autoUpgrade)
    lines.push(
      "upgrade: on-state-entry: stacks move to this version at their next state entry when it has that state",
    );
  else lines.push("upgrade: manual: running stacks keep their version until `stackseam stacks upgrade`");
  return lines.join("\n");
}

/** What to do about stranded stacks, for a refused push or a diff that shows some. */
export function migrationAdvice(impact: Impact): string {
  const name = impact.to.name;
  return [
    "To migrate them first: move each stranded stack to a state this version has (send it an event its",
    "current state handles) or let it finish, then check and upgrade:",
    `  stackseam stacks upgrade --machine ${name} --dry-run`,
    `  stackseam stacks upgrade --machine ${name}`,
    "Or push with --force: pinned stacks keep running the version they have (until they enter a state",
    "the new version has, under on-state-entry); stacks without a version would have their events refused.",
  ].join("\n");
}

/** The whole report for one machine: header, change table, live stacks, summary. */
export function renderAssessment(a: Assessment): string {
  const { name, next, deployed, diff, impact } = a;
  let out = "";
  if (!deployed)
    out += `machine ${name}: ${a.deployedNote ? `not compared (${a.deployedNote})` : "new (no deployed version)"} → ${next.version}\n`;
  else if (deployed.machine.version === next.version)
    out += `machine ${name}: unchanged (version ${next.version}, deployed in ${deployed.where})\n`;
  else
    out += `machine ${name}: ${deployed.machine.version} (deployed in ${deployed.where}) → ${next.version}\n`;
  if (diff && diff.changes.length > 0) out += indent(renderChanges(diff, impact));
  else if (deployed && deployed.machine.version !== next.version)
    out += "  (no change to states, events, tasks or transitions)\n";
  if (impact && impact.live > 0)
    out += `\n  live stacks by version and state, on upgrade to ${next.version}:\n${indent(renderGroups(impact))}`;
  if (impact) out += `${indent(impactSummary(impact))}\n`;
  else if (a.impactNote) out += `  live stacks: not checked (${a.impactNote})\n`;
  return out;
}
