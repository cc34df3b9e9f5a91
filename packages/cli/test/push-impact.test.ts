import { diffMachines, type Machine, parseSpec } from "@stackseam/core";
import type { StackGroup } from "@stackseam/state-manager";
import { describe, expect, it } from "vitest";
import { assessImpact } from "../src/versions/impact.js";

const V1 = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: BUILD }]
  BUILD:
    tasks: [compile]
    on:
      NEXT: [{ action: advance, state: READY }]
  READY: {}
  DONE:
    terminal: true
tasks:
  compile: { executor: lambda, config: { name: compile } }
`;

function machine(text: string): Machine {
  const { machine: m, diagnostics } = parseSpec(text, { name: "build" });
  if (!m) throw new Error(diagnostics.map((d) => d.message).join("\n"));
  return m;
}

const v1 = machine(V1);
/** BUILD (and its task) renamed: a stack in BUILD cannot move; one in READY can. */
const renamed = (policy: string) =>
  machine(`upgrade: ${policy}\n${V1.replaceAll("BUILD", "COMPILE").replaceAll("compile", "make")}`);

const group = (version: string | null, state: string, count: number, tasks: string[] = []): StackGroup => ({
  version,
  state,
  tasks: tasks.map((name) => ({ name, status: "PENDING" as const })),
  count,
  sample: Array.from({ length: Math.min(count, 5) }, (_, i) => `${state.toLowerCase()}-${i + 1}`),
});

describe("assessImpact: --force is required exactly when stacks would be stranded", () => {
  const cases: [string, Machine, StackGroup[], { stranded: number; unpinned: number; force: boolean }][] = [
    [
      "on-state-entry, a pinned stack stranded",
      renamed("on-state-entry"),
      [group(v1.version, "BUILD", 2, ["compile"]), group(v1.version, "READY", 3)],
      { stranded: 2, unpinned: 0, force: true },
    ],
    [
      "manual, a pinned stack stranded: it keeps its version",
      renamed("manual"),
      [group(v1.version, "BUILD", 2, ["compile"]), group(v1.version, "READY", 3)],
      { stranded: 2, unpinned: 0, force: false },
    ],
    [
      "manual, a stack without a version stranded: it would run the new version",
      renamed("manual"),
      [group(null, "BUILD", 1, ["compile"])],
      { stranded: 0, unpinned: 1, force: true },
    ],
    [
      "on-state-entry, nobody stranded",
      renamed("on-state-entry"),
      [group(v1.version, "READY", 3), group(null, "READY", 1)],
      { stranded: 0, unpinned: 0, force: false },
    ],
    [
      "on-state-entry, no live stacks",
      renamed("on-state-entry"),
      [],
      { stranded: 0, unpinned: 0, force: false },
    ],
  ];
  it.each(cases)("%s", (_name, next, groups, expected) => {
    const impact = assessImpact(next, diffMachines(v1, next), groups);
    expect({ stranded: impact.stranded, unpinned: impact.unpinnedStranded, force: impact.mustForce }).toEqual(
      expected,
    );
    expect(impact.live).toBe(groups.reduce((n, g) => n + g.count, 0));
  });

  it("does not count stacks already on the new version, and counts each change's stacks", () => {
    const next = renamed("on-state-entry");
    const impact = assessImpact(next, diffMachines(v1, next), [
      group(next.version, "COMPILE", 4, ["make"]),
      group(v1.version, "BUILD", 2, ["compile"]),
    ]);
    expect(impact.groups.map((g) => [g.onTarget, g.problems.length > 0])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(impact.stranded).toBe(2);
    const touched = Object.fromEntries(
      impact.changes.map((c) => [`${c.change.change} ${c.change.subject} ${c.change.name}`, c.stacks]),
    );
    expect(touched).toMatchObject({
      "changed machine upgrade": 6,
      "removed state BUILD": 2,
      "added state COMPILE": 0,
      "removed task compile": 2,
      "added task make": 0,
    });
  });
});
