// The dashboard's HTTP server (node:http): routing, security headers, sessions, CSRF and actions.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { machineGraphModel, STACK_ID } from "@stackseam/core";
import {
  countStacks,
  type Database,
  getStack,
  hasEventKey,
  historyPage,
  isStackSort,
  latestHistoryId,
  openDatabase,
  type StateCount,
  searchStacks,
  stackTimers,
  stateCounts,
} from "@stackseam/state-manager";
import type { Kysely } from "kysely";
import {
  actionMessage,
  dashboardEventId,
  findOffer,
  isActionKind,
  offeredActions,
  type Publisher,
} from "./actions.js";
import { type Asset, loadAssets } from "./assets.js";
import { type CurrentSpecs, DashboardData } from "./data.js";
import { ListenError, UnsafeBindError } from "./errors.js";
import { parseDuration } from "./format.js";
import { href, html, text } from "./html.js";
import { ChangeFeed } from "./live.js";
import { confirmPage } from "./pages/confirm.js";
import { messagePage, type PageContext } from "./pages/layout.js";
import { machinesPage } from "./pages/machines.js";
import { stackPage } from "./pages/stack.js";
import { type StacksQuery, stacksPage } from "./pages/stacks.js";
import { Guard, isLoopback, loopbackHosts, parseCookies, SESSION_COOKIE } from "./security.js";

export interface DashboardOptions {
  /** Where to read (a database URL); or an open Kysely instance in `db`. */
  databaseUrl?: string;
  db?: Kysely<Database>;
  /** Bind address (default 127.0.0.1). Any non-loopback address needs `token`. */
  host?: string;
  /** Port (default 4680; 0 picks a free one). */
  port?: number;
  /** Access token; required off loopback. On loopback it is enforced too when given. */
  token?: string | null;
  /** No actions; also implied when there is no `publish`. */
  readOnly?: boolean;
  /** Sends an event to the event queue (the CLI's `send` path). */
  publish?: Publisher;
  /** The current specs (dev's folder), shown before any stack used them. */
  specs?: CurrentSpecs;
  /** How pages update: server-sent events (default), client polling (for measurements) or off. */
  live?: "sse" | "poll" | "off";
  /** How often the change feed polls the history (default 250 ms). */
  liveIntervalMs?: number;
  /** Shown in the header: where the data comes from (never a password). */
  source?: string;
  onError?: (err: unknown) => void;
}

/** A running dashboard. */
export interface Dashboard {
  url: string;
  host: string;
  port: number;
  readOnly: boolean;
  /** The change feed's database round trips so far (for measurements). */
  feedPolls(): number;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 4680;

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  // same-origin, not no-referrer: with no-referrer a form POST carries `Origin: null`, which the
  // origin check must refuse.
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};

const STACK_ID_RE = new RegExp(STACK_ID);
const MAX_BODY = 16 * 1024;

class HttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
    this.name = "HttpError";
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, "malformed URL");
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) throw new HttpError(415, "expected a form");
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "form too large");
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function short(value: string | null, max: number): string | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  return v === "" ? undefined : v.slice(0, max);
}

/** The stacks page's query from its URL (unknown or malformed values are dropped). */
export function parseStacksQuery(params: URLSearchParams): StacksQuery {
  const sort = params.get("sort") ?? "id";
  const limit = Number(params.get("limit") ?? 50);
  const q: StacksQuery = {
    sort: isStackSort(sort) ? sort : "id",
    limit: Number.isInteger(limit) && limit >= 1 && limit <= 500 ? limit : 50,
  };
  const machine = short(params.get("machine"), 128);
  if (machine) q.machine = machine;
  const state = short(params.get("state"), 128);
  if (state) q.state = state;
  if (params.get("failed") === "1") q.failed = true;
  const text = short(params.get("q"), 200);
  if (text) q.text = text;
  const idle = short(params.get("idle"), 20);
  const seconds = idle ? parseDuration(idle) : null;
  if (idle && seconds !== null) {
    q.idle = idle;
    q.idleSeconds = seconds;
  }
  const after = short(params.get("after"), 600);
  if (after) q.after = after;
  return q;
}

/** The number of stacks a machine/state/failed filter matches, read from the counts per state. */
function countedFrom(counts: readonly StateCount[], q: StacksQuery): { count: number; capped: boolean } {
  let count = 0;
  for (const c of counts) {
    if (q.machine !== undefined && c.machine !== q.machine) continue;
    if (q.state !== undefined && c.state !== q.state) continue;
    count += q.failed ? c.failed : c.stacks;
  }
  return { count, capped: false };
}

/** Starts the dashboard; refuses a non-loopback address without a token. */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? "127.0.0.1";
  const token = opts.token ?? null;
  const loopback = isLoopback(host);
  if (!loopback && !token) throw new UnsafeBindError(host);
  if (!opts.db && !opts.databaseUrl) throw new TypeError("startDashboard needs databaseUrl or db");
  const ownDb = !opts.db;
  const db = opts.db ?? openDatabase(opts.databaseUrl as string, { max: 6, applicationName: "stackseam-ui" });
  const assets = loadAssets();
  const byPath = new Map<string, Asset>([assets.css, assets.js, assets.morph].map((a) => [a.path, a]));
  const readOnly = opts.readOnly === true || opts.publish === undefined;
  const data = new DashboardData(db, opts.specs);
  const feed = new ChangeFeed(db, {
    ...(opts.liveIntervalMs !== undefined ? { intervalMs: opts.liveIntervalMs } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const live = opts.live ?? "sse";
  const source = opts.source ?? "database";
  // Set once listening (the Host check needs the port).
  let guard = new Guard(token, null);
  // When each request arrived: pages report their server time (Server-Timing) for measurements.
  const arrived = new WeakMap<ServerResponse, number>();

  const send = (
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    type: string,
    extra: Record<string, string | string[]> = {},
    req?: IncomingMessage,
  ) => {
    let payload = typeof body === "string" ? Buffer.from(body) : body;
    const headers: Record<string, string | string[] | number> = {
      ...SECURITY_HEADERS,
      "content-type": type,
      "cache-control": "no-store",
      ...extra,
    };
    if (req && payload.length > 1024 && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
      payload = gzip(payload);
      headers["content-encoding"] = "gzip";
      headers.vary = "accept-encoding";
    }
    headers["content-length"] = payload.length;
    const since = arrived.get(res);
    if (since !== undefined) headers["server-timing"] = `app;dur=${(performance.now() - since).toFixed(2)}`;
    res.writeHead(status, headers);
    res.end(req?.method === "HEAD" ? undefined : payload);
  };

  // Counts per state change only with the history (every change to a stack writes a row), so
  // they are computed once per history cursor, however many pages ask.
  let counted: { cursor: number; counts: Promise<StateCount[]> } | null = null;
  const countsAt = (cursor: number): Promise<StateCount[]> => {
    if (counted?.cursor !== cursor) {
      const counts = stateCounts(db);
      counts.catch(() => {
        if (counted?.counts === counts) counted = null;
      });
      counted = { cursor, counts };
    }
    return counted.counts;
  };

  const context = async (session: string): Promise<PageContext> => ({
    now: new Date(),
    csrf: guard.csrfFor(session),
    readOnly,
    assets: { css: assets.css.path, js: assets.js.path, morph: assets.morph.path },
    live,
    source,
    cursor: await latestHistoryId(db),
  });

  async function stackView(id: string, url: URL) {
    const beforeRaw = url.searchParams.get("before");
    const before = beforeRaw !== null && /^\d+$/.test(beforeRaw) ? Number(beforeRaw) : undefined;
    const [stack, history, timers] = await Promise.all([
      getStack(db, id),
      historyPage(db, id, before !== undefined ? { before } : {}),
      stackTimers(db, id),
    ]);
    const seen =
      before === undefined
        ? (history.rows[0]?.id ?? 0)
        : ((await historyPage(db, id, { limit: 1 })).rows[0]?.id ?? 0);
    const machine = stack ? await data.machineFor(stack.machine, stack.version) : null;
    return { stack, history, timers, seen, machine, before };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    if (!guard.hostAllowed(req.headers.host)) {
      send(res, 421, "This dashboard answers only to its own address.\n", "text/plain; charset=utf-8");
      return;
    }
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    const asset = byPath.get(url.pathname);
    if (asset && (method === "GET" || method === "HEAD")) {
      const gz = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
      const body = gz ? asset.gzip : asset.body;
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        "content-type": asset.type,
        "cache-control": "public, max-age=31536000, immutable",
        "content-length": body.length,
        vary: "accept-encoding",
        ...(gz ? { "content-encoding": "gzip" } : {}),
      });
      res.end(method === "HEAD" ? undefined : body);
      return;
    }
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204, SECURITY_HEADERS);
      res.end();
      return;
    }

    // Who is asking: a session cookie this server issued, else (with a token) the token.
    const cookies = parseCookies(req.headers.cookie);
    let session = guard.validSession(cookies[SESSION_COOKIE]) ? (cookies[SESSION_COOKIE] as string) : null;
    const setCookie: string[] = [];
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (guard.token !== null && session === null) {
      const offered = url.searchParams.get("token") ?? bearer;
      if (!guard.validToken(offered)) {
        send(
          res,
          401,
          "This dashboard needs its token: open the URL printed when it started (…/?token=…), or send Authorization: Bearer <token>.\n",
          "text/plain; charset=utf-8",
          { "www-authenticate": 'Bearer realm="stackseam"' },
        );
        return;
      }
    }
    if (session === null) {
      session = guard.newSession();
      setCookie.push(`${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict`);
    }
    if (url.searchParams.has("token") && method === "GET") {
      // The token leaves the address bar (and the history) once the cookie carries the session.
      url.searchParams.delete("token");
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        location: `${url.pathname}${url.search}`,
        "set-cookie": setCookie,
      });
      res.end();
      return;
    }
    const extra = setCookie.length ? { "set-cookie": setCookie } : {};
    const htmlPage = (status: number, body: string) =>
      send(res, status, body, "text/html; charset=utf-8", extra, req);

    const parts = url.pathname.split("/").filter(Boolean).map(decodeSegment);
    if (method === "GET" && parts[0] === "live" && parts.length === 1) {
      if (live === "off") throw new HttpError(404, "live updates are off");
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      if (setCookie.length) res.setHeader("set-cookie", setCookie);
      feed.attach(res);
      return;
    }
    if (method === "GET" || method === "HEAD") {
      if (parts.length === 0) {
        res.writeHead(303, { ...SECURITY_HEADERS, location: "/stacks", ...extra });
        res.end();
        return;
      }
      const ctx = await context(session);
      if (parts[0] === "stacks" && parts.length === 1) {
        const query = parseStacksQuery(url.searchParams);
        const [counts, page] = await Promise.all([countsAt(ctx.cursor), searchStacks(db, query)]);
        const matching =
          query.text === undefined && query.idleSeconds === undefined
            ? countedFrom(counts, query)
            : await countStacks(db, query);
        htmlPage(200, stacksPage(ctx, { query, counts, page, matching }));
        return;
      }
      if (parts[0] === "stacks" && parts.length === 2) {
        const id = parts[1] as string;
        const v = await stackView(id, url);
        const sent = short(url.searchParams.get("sent"), 256);
        htmlPage(
          v.stack || v.history.rows.length ? 200 : 404,
          stackPage(ctx, {
            id,
            stack: v.stack,
            machine: v.machine,
            graph: v.machine ? machineGraphModel(v.machine) : null,
            history: v.history,
            ...(v.before !== undefined ? { before: v.before } : {}),
            timers: v.timers,
            offers: v.stack ? offeredActions(v.stack, v.machine) : [],
            seen: v.seen,
            ...(sent ? { sent } : {}),
          }),
        );
        return;
      }
      if (parts[0] === "stacks" && parts.length === 3 && parts[2] === "confirm") {
        const id = parts[1] as string;
        if (readOnly) throw new HttpError(403, "this dashboard is read-only");
        const kind = url.searchParams.get("action") ?? "";
        const stack = await getStack(db, id);
        if (!stack || !isActionKind(kind)) throw new HttpError(404, "no such stack or action");
        const machine = await data.machineFor(stack.machine, stack.version);
        const offer = findOffer(
          offeredActions(stack, machine),
          kind,
          url.searchParams.get("event") ?? undefined,
        );
        const seen = (await historyPage(db, id, { limit: 1 })).rows[0]?.id ?? 0;
        if (!offer) {
          htmlPage(
            409,
            messagePage(
              ctx,
              "Not available",
              html`<p>Stack <a href="${href(["stacks", id])}">${text(id, 128)}</a> in state ${stack.state} does not offer this action (any more).</p>`,
            ),
          );
          return;
        }
        htmlPage(200, confirmPage(ctx, stack, machine, offer, seen));
        return;
      }
      if (parts[0] === "machines" && parts.length <= 2) {
        const counts = await countsAt(ctx.cursor);
        let entries = await data.machines(counts.map((c) => c.machine));
        let one: { version?: string } | undefined;
        if (parts.length === 2) {
          entries = entries.filter((e) => e.name === parts[1]);
          if (entries.length === 0) throw new HttpError(404, "no such machine");
          const version = short(url.searchParams.get("version"), 64);
          one = {};
          const entry = entries[0];
          if (version && entry) {
            const chosen = await data.machineFor(entry.name, version);
            if (chosen) {
              entries = [{ ...entry, machine: chosen }];
              one.version = version;
            }
          }
        }
        htmlPage(200, machinesPage(ctx, entries, counts, one));
        return;
      }
      throw new HttpError(404, "not found");
    }
    if (method === "POST" && parts[0] === "stacks" && parts.length === 3 && parts[2] === "actions") {
      const id = parts[1] as string;
      if (readOnly) throw new HttpError(403, "this dashboard is read-only");
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`)
        throw new HttpError(403, "cross-origin form refused");
      const form = await readForm(req);
      if (!guard.validCsrf(session, form.get("csrf") ?? undefined))
        throw new HttpError(403, "the form's CSRF token is missing or stale: reload the page and try again");
      if (!STACK_ID_RE.test(id)) throw new HttpError(400, "not a stack id");
      const kind = form.get("action") ?? "";
      const seenRaw = form.get("seen") ?? "";
      if (!isActionKind(kind) || !/^\d+$/.test(seenRaw)) throw new HttpError(400, "malformed action");
      const ctx = await context(session);
      const stack = await getStack(db, id);
      if (!stack) throw new HttpError(404, "no such stack");
      const machine = await data.machineFor(stack.machine, stack.version);
      const offer = findOffer(offeredActions(stack, machine), kind, form.get("event") ?? undefined);
      const event = form.get("event") ?? "";
      if (
        !offer &&
        event !== "" &&
        (await hasEventKey(db, stack.id, dashboardEventId(stack.id, event, Number(seenRaw))))
      ) {
        // This very confirmation was already sent and applied (a second click arriving late): done.
        res.writeHead(303, {
          ...SECURITY_HEADERS,
          location: href(["stacks", stack.id], { sent: dashboardEventId(stack.id, event, Number(seenRaw)) }),
          ...extra,
        });
        res.end();
        return;
      }
      if (!offer) {
        htmlPage(
          409,
          messagePage(
            ctx,
            "Not sent",
            html`<p>Stack <a href="${href(["stacks", id])}">${text(id, 128)}</a> is in state ${stack.state} now, which does not offer this action: nothing was sent.</p>`,
          ),
        );
        return;
      }
      if (offer.danger && form.get("confirm") !== stack.id) {
        htmlPage(
          400,
          messagePage(
            ctx,
            "Not sent",
            html`<p>The id typed does not match the stack's: nothing was sent. <a href="${href(["stacks", id, "confirm"], { action: kind, seen: seenRaw })}">Try again</a>.</p>`,
          ),
        );
        return;
      }
      const message = actionMessage(stack.id, offer, Number(seenRaw));
      const sent = await (opts.publish as Publisher)(message);
      if (!sent.ok) {
        htmlPage(502, messagePage(ctx, "Not sent", html`<p>${text(sent.reason, 1000)}</p>`));
        return;
      }
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        location: href(["stacks", stack.id], { sent: message.eventId }),
        ...extra,
      });
      res.end();
      return;
    }
    throw new HttpError(405, "method not allowed");
  }

  const server: Server = createServer((req, res) => {
    arrived.set(res, performance.now());
    handle(req, res).catch(async (err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = err instanceof HttpError ? err.status : 500;
      if (!(err instanceof HttpError)) opts.onError?.(err);
      const message = err instanceof HttpError ? err.message : "the dashboard could not read the database";
      try {
        const ctx = await context("error").catch(() => null);
        if (ctx && status !== 421) {
          ctx.csrf = "";
          send(
            res,
            status,
            messagePage(ctx, `${status}`, html`<p>${message}</p>`),
            "text/html; charset=utf-8",
          );
        } else send(res, status, `${message}\n`, "text/plain; charset=utf-8");
      } catch {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new ListenError(`cannot listen on ${host}:${opts.port ?? DEFAULT_PORT}: ${err.message}`, err));
    server.once("error", onError);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // On loopback without a token, only our own names are accepted (a DNS-rebinding page sends its own).
  const shownHost = host.includes(":") ? `[${host}]` : host;
  guard = new Guard(token, loopback && !token ? loopbackHosts(port).add(`${shownHost}:${port}`) : null);
  return {
    url: `http://${shownHost}:${port}/`,
    host,
    port,
    readOnly,
    feedPolls: () => feed.polls,
    async close() {
      feed.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDb) await db.destroy();
    },
  };
}

function gzip(body: Buffer): Buffer {
  return gzipSync(body, { level: 6 });
}
