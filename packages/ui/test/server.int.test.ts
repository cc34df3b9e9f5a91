// The dashboard's server in-process against a real database: the pages docs/dashboard.md describes
// (machines, confirmation), the action flow (CSRF, typed confirmation, once), read-only mode and
// the access rules (Host check, token, session cookie). The Chromium tests cover the browser side.
import { request } from "node:http";
import type { EventMessage } from "@stackseam/core";
import { parseSpec } from "@stackseam/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { dashboardEventId } from "../src/actions.js";
import { UnsafeBindError } from "../src/errors.js";
import { type Dashboard, startDashboard } from "../src/server.js";

// The example machine's shape, written out so that edits to examples/ do not move these tests.
const QA_ENV = `version: 1
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
// A machine only the specs folder knows: no stack used it yet.
const FRESH = `version: 1
events: [GO]
states:
  INIT: { on: { GO: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
`;
const qaEnv = parseSpec(QA_ENV, { name: "qa-env", file: "specs/qa-env.yml" }).machine!;
const fresh = parseSpec(FRESH, { name: "fresh" }).machine!;

interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

describe("the dashboard's server", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let dash: Dashboard;
  let readOnly: Dashboard;
  const published: EventMessage[] = [];
  let refuse: string | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO machine_versions (machine, version, source, origin, first_used_at) VALUES
           ('qa-env', $1, $2, 'specs/qa-env.yml', '2026-01-01T10:00:00Z'),
           ('broken', 'b0rken', 'version: 1\nstates: [', null, '2026-01-01T10:00:00Z')`,
        [qaEnv.version, QA_ENV],
      );
      const failed = JSON.stringify([
        { name: "provision-env", status: "ERROR", token: "t1", attempt: 1, description: "Error: boom" },
      ]);
      const pending = JSON.stringify(
        ["provision-env", "seed-data"].map((name) => ({
          name,
          status: "PENDING",
          token: `t-${name}`,
          attempt: 1,
          dispatchedAt: "2026-01-01T10:00:00Z",
        })),
      );
      await client.query(
        `INSERT INTO stacks (id, machine, version, state, tasks) VALUES
           ('st-failed', 'qa-env', $1, 'PROVISION', $2::jsonb),
           ('st-run', 'qa-env', $1, 'RUN', '[]'::jsonb),
           ('st-frozen', 'qa-env', $1, 'FROZEN', '[]'::jsonb),
           ('st-pending', 'qa-env', $1, 'PROVISION', $3::jsonb),
           ('st-old', 'qa-env', NULL, 'RUN', '[]'::jsonb),
           ('st-fresh', 'fresh', $4, 'INIT', '[]'::jsonb),
           ('st-ghost', 'ghost', 'g1', 'SOMEWHERE', '[]'::jsonb)`,
        [qaEnv.version, failed, pending, fresh.version],
      );
      // A stack that reached its end and was removed: only its history is left.
      await client.query(
        `INSERT INTO history (stack_id, machine, event, event_key, outcome, from_state, to_state, path, detail) VALUES
           ('st-gone', 'qa-env', 'DESTROY', 'k-gone', 'applied', 'RUN', 'TEARDOWN', ARRAY['TEARDOWN'], '{"removed": true}')`,
      );
      await client.query(
        `INSERT INTO history (stack_id, machine, event, event_key, outcome, from_state, to_state) VALUES
           ('st-run', 'qa-env', 'LAUNCH', 'k-run', 'applied', 'INIT', 'RUN'),
           ('st-frozen', 'qa-env', 'FREEZE', 'k-frozen', 'applied', 'RUN', 'FROZEN')`,
      );
    } finally {
      await client.end();
    }
    const publish = async (message: EventMessage) => {
      if (refuse !== null) return { ok: false as const, reason: refuse };
      published.push(message);
      return { ok: true as const, messageId: `m-${published.length}` };
    };
    dash = await startDashboard({
      databaseUrl: db.url,
      port: 0,
      publish,
      specs: async () => [qaEnv, fresh],
      live: "off",
      source: "test database",
    });
    readOnly = await startDashboard({ databaseUrl: db.url, port: 0, readOnly: true, publish });
  });

  afterAll(async () => {
    await dash?.close();
    await readOnly?.close();
    await db?.drop();
  });

  async function get(path: string, init: RequestInit = {}, base: Dashboard | string = dash): Promise<Reply> {
    const url = new URL(path, typeof base === "string" ? base : base.url);
    const r = await fetch(url, { redirect: "manual", ...init });
    return { status: r.status, headers: r.headers, body: await r.text() };
  }

  /** A session cookie and the CSRF token and `seen` of a confirmation page. */
  async function confirmation(stack: string, query: string) {
    const r = await get(`/stacks/${stack}/confirm?${query}`);
    expect(r.status, r.body).toBe(200);
    const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] as string;
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(r.body)?.[1] ?? "";
    return { cookie, csrf: field("csrf"), seen: field("seen"), body: r.body };
  }

  function post(stack: string, cookie: string, form: Record<string, string>, headers = {}, base = dash) {
    return get(
      `/stacks/${stack}/actions`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie, ...headers },
        body: new URLSearchParams(form).toString(),
      },
      base,
    );
  }

  it("sends / to the stacks page and serves the stacks page's filters", async () => {
    const root = await get("/");
    expect(root.status).toBe(303);
    expect(root.headers.get("location")).toBe("/stacks");
    const all = await get("/stacks?machine=qa-env");
    expect(all.status).toBe(200);
    for (const id of ["st-failed", "st-run", "st-frozen"]) expect(all.body).toContain(id);
    // A text search is counted by the database, not from the counts per state.
    const found = await get("/stacks?q=frozen");
    expect(found.body).toContain("st-frozen");
    expect(found.body).not.toContain("st-run<");
  });

  it("filters the stacks page by machine, state and failed task, with the count and the failure's Error: line", async () => {
    const r = await get("/stacks?machine=qa-env&state=PROVISION&failed=1");
    expect(r.status).toBe(200);
    expect(r.body).toContain('<span id="match-count">1</span> matching stack<');
    expect(r.body).toContain('<tr data-stack="st-failed">');
    expect(r.body).not.toContain('<tr data-stack="st-pending">');
    expect(r.body).toContain('<div class="error-line">provision-env: Error: boom</div>');
    // Counted per machine and state, failed ones marked.
    expect(r.body).toMatch(
      /PROVISION <b>2<\/b> <span class="status ERROR" title="with a failed task">1 failed<\/span>/,
    );
    const idle = await get("/stacks?idle=1h");
    expect(idle.body).toContain("No stacks match these filters.");
  });

  it("pages the stacks by keyset: Next, then the first page link and the last page", async () => {
    const first = await get("/stacks?limit=4");
    const ids = (body: string) => [...body.matchAll(/<tr data-stack="([^"]+)">/g)].map((m) => m[1]);
    expect(ids(first.body)).toEqual(["st-failed", "st-fresh", "st-frozen", "st-ghost"]);
    const next = /<a class="next" rel="next" href="([^"]+)">Next 4 →<\/a>/.exec(first.body)?.[1];
    expect(next).toBeDefined();
    const second = await get((next as string).replaceAll("&amp;", "&"));
    expect(ids(second.body)).toEqual(["st-old", "st-pending", "st-run"]);
    expect(second.body).toContain("first page</a>");
    expect(second.body).toContain('<span class="muted">last page</span>');
  });

  it("shows a stack's page with its failure, actions and timeline; a removed stack's history stays", async () => {
    const failed = await get("/stacks/st-failed");
    expect(failed.status).toBe(200);
    expect(failed.body).toContain("Error: boom");
    expect(failed.body).toContain("/stacks/st-failed/confirm?action=retry-failed");
    const gone = await get("/stacks/st-gone");
    expect(gone.status).toBe(200);
    expect(gone.body).toContain("This stack does not exist now");
    expect(gone.body).toContain("<em>removed</em>");
    const sent = await get("/stacks/st-run?sent=dashboard-destroy-abc");
    expect(sent.body).toContain("Sent (event key <code>dashboard-destroy-abc</code>)");
    // A stack from before versions is drawn with its machine's newest version; one of a machine
    // only the specs folder has, from the spec.
    expect((await get("/stacks/st-old")).body).toContain("<svg");
    expect((await get("/stacks/st-fresh")).body).toContain("<svg");
    const older = await get("/stacks/st-run?before=999999");
    expect(older.status).toBe(200);
    expect(older.body).toContain(">newest</a>");
  });

  it("lists every machine: stored versions, the specs folder's, and one whose stored spec does not parse", async () => {
    const r = await get("/machines");
    expect(r.status).toBe(200);
    expect(r.body).toContain("<title>Machines · Stackseam</title>");
    const card = (name: string) =>
      new RegExp(`<section class="card machine" id="machine-${name}">([\\s\\S]*?)</section>`).exec(
        r.body,
      )?.[1] ?? "";
    // Three live stacks of qa-env; its events, tasks with executors, its stored version and source.
    expect(card("qa-env")).toContain("5 live stacks");
    for (const event of ["LAUNCH", "FREEZE", "THAW", "DESTROY", "TOUCH"])
      expect(card("qa-env")).toContain(`<code>${event}</code>`);
    expect(card("qa-env")).toContain('<code>provision-env</code> <span class="muted">lambda</span>');
    expect(card("qa-env")).toContain(`<code>${qaEnv.version.slice(0, 12)}</code>`);
    expect(card("qa-env")).toContain("specs/qa-env.yml");
    // Each state links to its stacks.
    expect(card("qa-env")).toContain("/stacks?machine=qa-env&amp;state=RUN");
    expect(card("fresh")).toContain("1 live stack<");
    expect(card("fresh")).toContain("No stored version yet");
    expect(card("broken")).toContain("Cannot draw broken: its stored spec no longer parses.");
    // Known only from a live stack's row.
    expect(card("ghost")).toContain("Cannot draw ghost: no stored version and no spec.");
  });

  it("shows one machine at a chosen version, and 404 for a machine nobody knows", async () => {
    const one = await get(`/machines/qa-env?version=${qaEnv.version}`);
    expect(one.status).toBe(200);
    expect(one.body).toContain("<title>Machine qa-env · Stackseam</title>");
    expect(one.body).toContain('<tr class="shown">');
    expect(one.body).not.toContain('id="machine-fresh"');
    // A version nobody stored: the machine at its newest version, shown as such.
    const unknown = await get("/machines/qa-env?version=nope");
    expect(unknown.status).toBe(200);
    expect(unknown.body).toContain(
      `<tr class="shown"><td><a href="/machines/qa-env?version=${qaEnv.version}">`,
    );
    expect((await get("/machines/nobody")).status).toBe(404);
  });

  it("confirms an action by saying what will happen", async () => {
    const retry = await confirmation("st-failed", "action=retry-failed");
    expect(retry.body).toContain("The failed task provision-env will be dispatched again.");
    expect(retry.body).not.toContain('name="confirm"');
    const destroy = await confirmation("st-run", "action=destroy");
    expect(destroy.body).toContain("RUN → <strong>TEARDOWN</strong> — the environment is torn down");
    expect(destroy.body).toContain("Type the stack id to confirm");
    const pendingOnes = await confirmation("st-pending", "action=retry-pending");
    expect(pendingOnes.body).toContain(
      "The pending tasks provision-env, seed-data will be dispatched again (the running attempt's report will then be ignored).",
    );
    const touch = await confirmation("st-run", "action=event&event=TOUCH");
    expect(touch.body).toContain("RUN handles TOUCH without leaving the state.");
    const thaw = await confirmation("st-frozen", "action=event&event=THAW");
    expect(thaw.body).toContain("FROZEN → <strong>RUN</strong>.");
    // Not offered in this state: 409; an unknown stack or action: 404.
    expect((await get("/stacks/st-run/confirm?action=retry-failed")).status).toBe(409);
    expect((await get("/stacks/nobody/confirm?action=destroy")).status).toBe(404);
    expect((await get("/stacks/st-run/confirm?action=explode")).status).toBe(404);
  });

  it("sends a confirmed action once, with the id derived from the confirmation", async () => {
    const c = await confirmation("st-frozen", "action=event&event=THAW");
    const form = { csrf: c.csrf, action: "event", event: "THAW", seen: c.seen };
    const r = await post("st-frozen", c.cookie, form);
    expect(r.status, r.body).toBe(303);
    const id = dashboardEventId("st-frozen", "THAW", Number(c.seen));
    expect(r.headers.get("location")).toBe(`/stacks/st-frozen?sent=${id}`);
    expect(published.at(-1)).toEqual({ stackId: "st-frozen", event: "THAW", eventId: id });
  });

  it("answers a late second click as sent once its event was applied", async () => {
    // st-run does not offer THAW; the history holds the key this confirmation would send.
    const c = await confirmation("st-run", "action=destroy");
    const id = dashboardEventId("st-run", "THAW", Number(c.seen));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      `INSERT INTO history (stack_id, machine, event, event_key, outcome, from_state, to_state)
       VALUES ('st-run', 'qa-env', 'THAW', $1, 'applied', 'FROZEN', 'RUN')`,
      [id],
    );
    await client.end();
    const before = published.length;
    const r = await post("st-run", c.cookie, { csrf: c.csrf, action: "event", event: "THAW", seen: c.seen });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe(`/stacks/st-run?sent=${id}`);
    expect(published.length).toBe(before);
    // The same form at another point in the history was never sent: refused, nothing sent.
    const stale = await post("st-run", c.cookie, {
      csrf: c.csrf,
      action: "event",
      event: "THAW",
      seen: "999999",
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toContain("nothing was sent");
    expect(published.length).toBe(before);
  });

  it("destroys only when the stack id is typed", async () => {
    const c = await confirmation("st-run", "action=destroy");
    const form = { csrf: c.csrf, action: "destroy", event: "DESTROY", seen: c.seen };
    const wrong = await post("st-run", c.cookie, { ...form, confirm: "st-ru" });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain("The id typed does not match");
    const before = published.length;
    expect((await post("st-run", c.cookie, { ...form, confirm: "st-run" })).status).toBe(303);
    expect(published.length).toBe(before + 1);
    expect(published.at(-1)?.event).toBe("DESTROY");
  });

  it("refuses forged, malformed and cross-origin forms with nothing sent, and says why a send failed", async () => {
    const c = await confirmation("st-failed", "action=retry-failed");
    const form = { csrf: c.csrf, action: "retry-failed", seen: c.seen };
    const before = published.length;
    // Another session's cookie does not go with this CSRF token.
    expect((await post("st-failed", "", form)).status).toBe(403);
    expect((await post("st-failed", c.cookie, { ...form, csrf: "" })).status).toBe(403);
    expect((await post("st-failed", c.cookie, form, { origin: "http://evil.test" })).status).toBe(403);
    expect((await post("st-failed", c.cookie, { ...form, seen: "x" })).status).toBe(400);
    expect((await post("st-failed", c.cookie, { ...form, action: "nuke" })).status).toBe(400);
    expect((await post("no such id!", c.cookie, form)).status).toBe(400);
    expect((await post("nobody", c.cookie, form)).status).toBe(404);
    const notForm = await get("/stacks/st-failed/actions", {
      method: "POST",
      headers: { "content-type": "application/json", cookie: c.cookie },
      body: "{}",
    });
    expect(notForm.status).toBe(415);
    expect(published.length).toBe(before);

    refuse = "the event queue is unreachable";
    try {
      const r = await post("st-failed", c.cookie, form);
      expect(r.status).toBe(502);
      expect(r.body).toContain("the event queue is unreachable");
    } finally {
      refuse = null;
    }
  });

  it("read-only: no confirmation and the action endpoint answers 403", async () => {
    expect((await get("/stacks/st-run/confirm?action=destroy", {}, readOnly)).status).toBe(403);
    const r = await get(
      "/stacks/st-run/actions",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "action=destroy",
      },
      readOnly,
    );
    expect(r.status).toBe(403);
    expect((await get("/stacks", {}, readOnly)).body).toContain("read-only");
  });

  it("answers on loopback only to its own address as Host (421 otherwise)", async () => {
    // fetch always sends the URL's host: a DNS-rebinding page's Host needs a plain request.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        new URL("/stacks", dash.url),
        { headers: { host: `evil.test:${dash.port}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(421);
    const local = await get(`http://localhost:${dash.port}/stacks`);
    expect(local.status).toBe(200);
  });

  it("serves assets immutable and gzipped on request, a favicon-less 204, and 404/405/400 for the rest", async () => {
    const page = await get("/stacks");
    const css = /href="(\/assets\/dashboard\.[0-9a-f]+\.css)"/.exec(page.body)?.[1];
    expect(css).toBeDefined();
    const raw = await fetch(new URL(css as string, dash.url), { headers: { "accept-encoding": "identity" } });
    expect(raw.status).toBe(200);
    expect(raw.headers.get("cache-control")).toContain("immutable");
    expect(raw.headers.get("content-encoding")).toBeNull();
    const zipped = await fetch(new URL(css as string, dash.url), { headers: { "accept-encoding": "gzip" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(await zipped.text()).toBe(await raw.text());
    expect((await get("/favicon.ico")).status).toBe(204);
    expect((await get("/nowhere")).status).toBe(404);
    expect((await get("/stacks/%E0%A4%A")).status).toBe(400);
    expect((await get("/stacks", { method: "DELETE" })).status).toBe(405);
    // live: "off" has no change feed.
    expect((await get("/live")).status).toBe(404);
    // A stack nobody knows and with no history: 404.
    expect((await get("/stacks/nobody")).status).toBe(404);
  });

  it("with a token: 401 without it, a session cookie from ?token= (which leaves the address), Bearer for scripts", async () => {
    const token = "test-token-0123456789abcdef";
    const guarded = await startDashboard({ databaseUrl: db.url, port: 0, token });
    try {
      const denied = await get("/stacks", {}, guarded);
      expect(denied.status).toBe(401);
      expect(denied.headers.get("www-authenticate")).toContain("Bearer");
      expect((await get(`/stacks?token=wrong`, {}, guarded)).status).toBe(401);
      const opened = await get(`/machines?token=${token}&x=1`, {}, guarded);
      expect(opened.status).toBe(303);
      expect(opened.headers.get("location")).toBe("/machines?x=1");
      const cookie = (opened.headers.get("set-cookie") ?? "").split(";")[0] as string;
      expect((await get("/machines", { headers: { cookie } }, guarded)).status).toBe(200);
      const bearer = await get("/stacks", { headers: { authorization: `Bearer ${token}` } }, guarded);
      expect(bearer.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it("pushes the ids of the stacks that changed to an open page as server-sent events", async () => {
    const live = await startDashboard({ databaseUrl: db.url, port: 0, liveIntervalMs: 50 });
    const abort = new AbortController();
    try {
      const res = await fetch(new URL("/live", live.url), { signal: abort.signal });
      expect(res.headers.get("content-type")).toContain("text/event-stream");
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = "";
      const until = async (what: string) => {
        while (!text.includes(what)) {
          const chunk = await reader.read();
          if (chunk.done) throw new Error(`stream ended before ${what}:\n${text}`);
          text += decoder.decode(chunk.value);
        }
      };
      // First the cursor the feed starts from, then a change once a history row is written.
      await until("event: hello");
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query(
        `INSERT INTO history (stack_id, machine, event, event_key, outcome) VALUES ('st-live', 'qa-env', 'TOUCH', 'k-live', 'applied')`,
      );
      await client.end();
      await until("event: change");
      const frame = /event: change\ndata: (.*)\n/.exec(text)?.[1] as string;
      expect(JSON.parse(frame)).toMatchObject({ stacks: ["st-live"], all: false });
      expect(live.feedPolls()).toBeGreaterThan(0);
    } finally {
      abort.abort();
      await live.close();
    }
  });

  it("refuses to start off loopback without a token", async () => {
    await expect(startDashboard({ databaseUrl: db.url, host: "0.0.0.0", port: 0 })).rejects.toBeInstanceOf(
      UnsafeBindError,
    );
  });
});
