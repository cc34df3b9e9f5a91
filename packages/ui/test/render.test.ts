import { machineGraphModel, parseSpec, type Stack } from "@stackseam/core";
import { describe, expect, it } from "vitest";
import { dashboardEventId, offeredActions } from "../src/actions.js";
import { machineDiagram } from "../src/diagram.js";
import { parseDuration } from "../src/format.js";
import { escapeHtml, href, html } from "../src/html.js";
import type { PageContext } from "../src/pages/layout.js";
import { pathTaken, stackPage } from "../src/pages/stack.js";
import { type StacksQuery, stacksPage } from "../src/pages/stacks.js";

// The example machine's shape, written out so that edits to examples/ do not move these tests.
const spec = `version: 1
events: [LAUNCH, FREEZE, THAW, DESTROY, TOUCH]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: PROVISION }] } }
  PROVISION: { tasks: [provision-env], on: { NEXT: [{ action: advance, state: RUN }] } }
  RUN:
    on:
      DESTROY: [{ action: advance, state: TEARDOWN }]
      TOUCH: [{ action: no-op }]
      FREEZE: [{ action: advance, state: FROZEN }]
  FROZEN:
    on:
      DESTROY: [{ action: advance, state: TEARDOWN }]
      THAW: [{ action: advance, state: RUN }]
  TEARDOWN: { terminal: true, tasks: [destroy-env] }
tasks:
  provision-env: { executor: lambda, config: { name: provision-env } }
  destroy-env: { executor: lambda, config: { name: destroy-env } }
`;
const machine = parseSpec(spec, { name: "qa-env" }).machine!;
const PAYLOAD = `<img src=x onerror=alert(1)>"'&`;

const ctx: PageContext = {
  now: new Date("2026-01-01T12:00:00Z"),
  csrf: "csrf-token",
  readOnly: false,
  assets: { css: "/assets/a.css", js: "/assets/a.js", morph: "/assets/m.js" },
  live: "sse",
  source: "test",
  cursor: 7,
};

function stack(over: Partial<Stack> = {}): Stack {
  return {
    id: "feature-1",
    machine: "qa-env",
    version: machine.version,
    state: "PROVISION",
    metadata: { note: PAYLOAD },
    tasks: [
      {
        name: "provision-env",
        status: "ERROR",
        token: "t1",
        attempt: 2,
        description: `apply failed\nWarning: old\nError: bad ${PAYLOAD}\n\u202Ehidden`,
        dispatchedAt: "2026-01-01T11:59:00Z",
        finishedAt: "2026-01-01T11:59:30Z",
        retryAt: "2026-01-01T12:05:00Z",
      },
    ],
    entry: 1,
    createdAt: "2026-01-01T11:00:00Z",
    updatedAt: "2026-01-01T11:59:30Z",
    outputs: {
      "provision-env": {
        url: { value: `https://x.test/${PAYLOAD}`, sensitive: false },
        password: { sensitive: true },
      },
    },
    deferred: [{ name: "FREEZE", key: "k1", at: "2026-01-01T11:58:00Z", metadata: { why: PAYLOAD } }],
    ...over,
  };
}

describe("html", () => {
  it("escapes every interpolated value and keeps nested markup", () => {
    expect(escapeHtml(PAYLOAD)).toBe("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;");
    expect(html`<p title="${PAYLOAD}">${PAYLOAD}${html`<b>${"<i>"}</b>`}</p>`.value).toBe(
      '<p title="&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;">&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;<b>&lt;i&gt;</b></p>',
    );
  });

  it("percent-encodes path segments and query values", () => {
    expect(href(["stacks", "a/b?c"], { q: "x&y=z", empty: "" })).toBe("/stacks/a%2Fb%3Fc?q=x%26y%3Dz");
  });
});

describe("stack page", () => {
  const page = stackPage(ctx, {
    id: "feature-1",
    stack: stack(),
    machine,
    graph: machineGraphModel(machine),
    history: { rows: [], older: null },
    timers: [],
    offers: offeredActions(stack(), machine),
    seen: 3,
  });

  it("shows attacker-controlled text only escaped", () => {
    expect(page).not.toContain("<img src=x");
    expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  it("names invisible bidi characters instead of rendering them", () => {
    expect(page).not.toContain("\u202E");
    expect(page).toContain("⟨U+202E⟩");
  });

  it("shows the first Error: line of a failure, after the warning, and the full text one click away", () => {
    expect(page).toContain('<div class="error-line">apply failed: Error: bad &lt;img');
    expect(page).toContain("<summary>full text</summary><pre>apply failed\nWarning: old\nError: bad");
  });

  it("never shows a sensitive output, and shows the others", () => {
    expect(page).toContain("sensitive: not shown");
    expect(page).toContain("https://x.test/&lt;img");
  });

  it("shows a retry time, and deferred events", () => {
    expect(page).toContain("retry:provision-env");
    expect(page).toContain("Deferred events");
    expect(page).toContain("why=&lt;img");
  });

  it("still renders a stack of the previous model (no optional fields)", () => {
    const plain = stackPage(ctx, {
      id: "old",
      stack: { ...stack(), outputs: undefined, deferred: undefined, tasks: [] } as unknown as Stack,
      machine: null,
      graph: null,
      history: { rows: [], older: null },
      timers: [],
      offers: [],
      seen: 0,
    });
    expect(plain).toContain("not available to the dashboard");
    expect(plain).not.toContain("Deferred events");
  });
});

describe("stacks page", () => {
  const page = (query: Partial<StacksQuery>) =>
    stacksPage(ctx, {
      query: { sort: "id", limit: 50, ...query },
      counts: [{ machine: "qa-env", state: "RUN", stacks: 1, failed: 0 }],
      page: { stacks: [stack({ state: "RUN", tasks: [] })], next: null },
      matching: { count: 1, capped: false },
    });
  const header = (html: string, label: string) =>
    html.match(new RegExp(`<th scope="col"([^>]*)><a href="([^"]*)">${label}([^<]*)</a>`))?.slice(1);

  // WAI-ARIA: aria-sort names the order of the rows; "-active" lists the most recent first.
  it("says which column sorts and which way, as the rows are ordered", () => {
    expect(header(page({}), "Stack")).toEqual([' aria-sort="ascending"', "/stacks", " ↑"]);
    expect(header(page({}), "Last active")).toEqual(["", "/stacks?sort=-active", ""]);
    expect(header(page({ sort: "-active" }), "Last active")).toEqual([
      ' aria-sort="descending"',
      "/stacks?sort=active",
      " ↓",
    ]);
    expect(header(page({ sort: "active" }), "Last active")).toEqual([
      ' aria-sort="ascending"',
      "/stacks?sort=-active",
      " ↑",
    ]);
    expect(header(page({ sort: "active" }), "Stack")).toEqual(["", "/stacks", ""]);
  });
});

describe("actions", () => {
  it("offers retries by task status and every event the state handles except NEXT, DESTROY as destroy", () => {
    const run = stack({ state: "RUN", tasks: [] });
    expect(offeredActions(run, machine).map((o) => `${o.kind}:${o.event}`)).toEqual([
      "destroy:DESTROY",
      "event:TOUCH",
      "event:FREEZE",
    ]);
    expect(offeredActions(stack(), machine).map((o) => o.kind)).toEqual(["retry-failed"]);
  });

  it("derives one event key per confirmation: same stack, event and history point, same key", () => {
    const a = dashboardEventId("feature-1", "RETRY_FAILED_TASKS", 3);
    expect(a).toBe(dashboardEventId("feature-1", "RETRY_FAILED_TASKS", 3));
    expect(a).toMatch(/^dashboard-retry-failed-tasks-[0-9a-f]{20}$/);
    expect(dashboardEventId("feature-1", "RETRY_FAILED_TASKS", 4)).not.toBe(a);
    expect(dashboardEventId("feature-2", "RETRY_FAILED_TASKS", 3)).not.toBe(a);
  });
});

describe("diagram", () => {
  it("lights the current state and the transitions taken, and links states", () => {
    const rows = [
      { outcome: "applied", duplicate: false, from: "PROVISION", to: "RUN", path: ["RUN"] },
      { outcome: "applied", duplicate: false, from: null, to: "PROVISION", path: ["PROVISION"] },
    ] as unknown as Parameters<typeof pathTaken>[0];
    const marks = pathTaken(rows, stack({ state: "RUN" }), "INIT");
    expect([...marks.visited].sort()).toEqual(["INIT", "PROVISION", "RUN"]);
    expect([...marks.taken].map((t) => t.replace("\u0000", "→")).sort()).toEqual([
      "INIT→PROVISION",
      "PROVISION→RUN",
    ]);
    const svg = machineDiagram(machineGraphModel(machine), {
      id: "t",
      current: "RUN",
      ...marks,
      link: (s) => `/x/${s}`,
    }).value;
    expect(svg).toMatch(/<a href="\/x\/RUN" class="state visited current" data-state="RUN">/);
    expect(svg.match(/class="edge taken"/g)).toHaveLength(2);
    // Every state is drawn once.
    expect(svg.match(/data-state="/g)).toHaveLength(machine.states.size);
  });

  it("escapes names (machine names are free text on the machines page)", () => {
    const model = { ...machineGraphModel(machine), machine: PAYLOAD };
    expect(machineDiagram(model, { id: "<x>" }).value).not.toContain("<img");
  });
});

describe("parseDuration", () => {
  it("reads the spec's duration syntax", () => {
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("3d")).toBe(259_200);
    expect(parseDuration("2 hours")).toBeNull();
    expect(parseDuration("")).toBeNull();
  });
});
