// What a webhook receiver's answer comes to (docs/spec-reference.md#notifications): a redirect is
// never followed and given up; 408/429/5xx are retried, honouring Retry-After (seconds or an HTTP
// date) up to an hour. Against a real HTTP server on loopback.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { NotificationBody } from "@stackseam/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationPayload } from "../src/notify/payload.js";
import { deliverWebhook } from "../src/notify/webhook.js";

const HOUR = 3_600_000;

const body: NotificationBody = {
  kind: "state-entered",
  stackId: "pr-7",
  machine: "qa-env",
  version: "6c0c2d1e9a3b4f57",
  state: "FAILED",
  event: { name: "TASK_ERROR", key: "k-1" },
  at: "2026-11-30T16:00:00.000Z",
  summary: "pr-7 entered FAILED",
  from: "PROVISION",
  to: "FAILED",
};

let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(req, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0/B1/secret-token`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const send = () =>
  deliverWebhook({
    target: { url },
    payload: notificationPayload("n-1", 1, body),
    secret: undefined,
    timeoutMs: 5_000,
    unixSeconds: Math.floor(Date.now() / 1000),
  });

describe("a webhook's answer", () => {
  it("a redirect is given up, not followed, telling to give the final URL", async () => {
    let followed = false;
    answer = (req, res) => {
      if (req.url === "/elsewhere") followed = true;
      res.writeHead(301, { location: "/elsewhere" }).end();
    };
    expect(await send()).toEqual({
      kind: "failed",
      error: "HTTP 301 Moved Permanently: redirects are not followed; give the webhook its final URL",
    });
    expect(followed).toBe(false);
  });

  it("a 429 with Retry-After in seconds is retried no sooner than asked", async () => {
    answer = (_req, res) => res.writeHead(429, { "retry-after": "120" }).end();
    expect(await send()).toEqual({ kind: "retry", error: "HTTP 429 Too Many Requests", afterMs: 120_000 });
  });

  it("a Retry-After beyond an hour is held to an hour", async () => {
    answer = (_req, res) => res.writeHead(503, { "retry-after": "86400" }).end();
    expect(await send()).toMatchObject({ kind: "retry", afterMs: HOUR });
  });

  it("a Retry-After given as an HTTP date is read as the time until then", async () => {
    const at = new Date(Date.now() + 10 * 60_000);
    answer = (_req, res) => res.writeHead(503, { "retry-after": at.toUTCString() }).end();
    const got = await send();
    expect(got.kind).toBe("retry");
    const afterMs = got.kind === "retry" ? got.afterMs : undefined;
    // The header has whole seconds; the request took a moment.
    expect(afterMs).toBeGreaterThan(9 * 60_000);
    expect(afterMs).toBeLessThanOrEqual(10 * 60_000);

    const past = new Date(Date.now() - 60_000).toUTCString();
    answer = (_req, res) => res.writeHead(503, { "retry-after": past }).end();
    expect(await send()).toMatchObject({ kind: "retry", afterMs: 0 });
  });

  it("a Retry-After that is neither leaves the delay to the backoff schedule", async () => {
    answer = (_req, res) => res.writeHead(408, { "retry-after": "soon" }).end();
    expect(await send()).toEqual({ kind: "retry", error: "HTTP 408 Request Timeout" });
  });

  it("a status without a reason phrase is named by its number", async () => {
    answer = (_req, res) => res.writeHead(502, "").end();
    expect(await send()).toEqual({ kind: "retry", error: "HTTP 502" });
  });
});
