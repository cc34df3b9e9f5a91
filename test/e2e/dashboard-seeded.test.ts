// `stackseam ui` on a non-loopback address against 10,000 seeded stacks, in Chromium: the token,
// read-only mode, filters, and keyset pages that neither skip nor repeat a stack.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseSpec } from "@stackseam/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEED_STATES, seedDashboard, seededStack } from "../../bench/lib/seed-dashboard.mjs";
import { launchBrowser, type TestBrowser } from "../support/browser.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { buildCli, cli, ROOT } from "./dev-harness.js";

const STACKS = 10_000;
const TOKEN = "test-token-0123456789abcdef";
// Seeded update times count back from now, so "idle longer than" splits them.
const BASE = new Date();
const seeded = Array.from({ length: STACKS }, (_, k) => seededStack(k + 1, BASE));

/** Starts `stackseam ui` and resolves with its printed URL once it listens. */
function startUi(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(ROOT, "packages/cli/dist/main.js"), "ui", ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stackseam ui did not start:\n${out}`)), 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const url = /dashboard on (\S+)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", () => reject(new Error(`stackseam ui exited:\n${out}`)));
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

describe("stackseam ui at 10,000 stacks, in Chromium", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let browser: TestBrowser;
  let ui: ChildProcess | undefined;
  let base: string;

  beforeAll(async () => {
    const [database] = await Promise.all([createTestDatabase(), buildCli()]);
    db = database;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const versions: Record<string, string> = {};
      for (const name of ["qa-env", "qa-env-terraform"]) {
        const file = join(ROOT, "examples/specs", `${name}.yml`);
        const source = readFileSync(file, "utf8");
        const machine = parseSpec(source, { name }).machine;
        if (!machine) throw new Error(`${name} does not parse`);
        versions[name] = machine.version;
        await client.query(
          "INSERT INTO machine_versions (machine, version, source, origin) VALUES ($1, $2, $3, $4)",
          [name, machine.version, source, file],
        );
      }
      await seedDashboard(client, { stacks: STACKS, historyPerStack: 2, base: BASE, versions });
    } finally {
      await client.end();
    }
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await stop(ui);
    await browser?.close();
    await db?.drop();
  });

  it("refuses to serve another address without a token", async () => {
    const r = await cli("/nonexistent", ["ui", "--host", "0.0.0.0", "--port", "0", "--database-url", db.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to serve the dashboard on 0.0.0.0 without a token");
  });

  it("requires the token there: nothing without it, a session cookie with it", async () => {
    const started = await startUi(
      ["--host", "0.0.0.0", "--port", "0", "--database-url", db.url, "--read-only"],
      {
        STACKSEAM_UI_TOKEN: TOKEN,
      },
    );
    ui = started.child;
    const port = new URL(started.url).port;
    base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/stacks`)).status).toBe(401);
    expect((await fetch(`${base}/stacks?token=${TOKEN}x`, { redirect: "manual" })).status).toBe(401);
    expect((await fetch(`${base}/stacks`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
      200,
    );
    const page = await browser.newPage();
    await page.goto(`${base}/stacks?token=${TOKEN}`);
    // The token leaves the address once the session cookie holds the session.
    expect(page.url()).toBe(`${base}/stacks`);
    expect(await page.locator("#match-count").textContent()).toBe("10,000");
    await page.close();
  });

  it("is read-only with --read-only: no action on a stack's page, and a forged action is refused", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/stacks/seed-000003`);
    expect(await page.locator(".badge.readonly").count()).toBe(1);
    expect(await page.locator("a[data-action]").count()).toBe(0);
    const res = await page.request.post(`${base}/stacks/seed-000003/actions`, {
      form: { action: "retry-failed", event: "RETRY_FAILED_TASKS", seen: "1", csrf: "x" },
      maxRedirects: 0,
    });
    expect(res.status()).toBe(403);
    await page.close();
  });

  it("filters by machine, state, failed task, idle time and text, as the seed says", async () => {
    const page = await browser.newPage();
    const count = async () => Number((await page.locator("#match-count").textContent())?.replace(/\D/g, ""));
    await page.goto(`${base}/stacks`);
    await page.selectOption('select[name="machine"]', "qa-env-terraform");
    await page.locator("form.filters button[type=submit]").click();
    await page.waitForURL(/machine=qa-env-terraform/);
    expect(await count()).toBe(seeded.filter((s) => s.machine === "qa-env-terraform").length);

    await page.goto(`${base}/stacks?machine=qa-env&state=PROVISION&failed=1`);
    expect(await count()).toBe(
      seeded.filter((s) => s.machine === "qa-env" && s.state === "PROVISION" && s.failed).length,
    );
    expect(await page.locator("tr[data-stack] .error-line").first().textContent()).toContain(
      'Error: Invalid value for variable "image_tag"',
    );

    await page.goto(`${base}/stacks`);
    await page.fill('input[name="q"]', "team-7");
    await page.locator("form.filters button[type=submit]").click();
    await page.waitForURL(/q=team-7/);
    expect(await count()).toBe(seeded.filter((s) => s.owner === "team-7").length);

    // Seeded activity is whole hours apart and the test runs later, so 97h30m splits it cleanly.
    const idleSince = Date.now() - (97 * 60 + 30) * 60_000;
    await page.goto(`${base}/stacks?idle=97h30m`);
    expect(await count()).toBe(seeded.filter((s) => s.updatedAt.getTime() < idleSince).length);

    // Counts per state, as links that filter.
    const frozen = seeded.filter((s) => s.machine === "qa-env" && s.state === "FROZEN").length;
    expect(SEED_STATES).toContain("FROZEN");
    await page.goto(`${base}/stacks`);
    await page
      .locator(".count-row", { hasText: "qa-env" })
      .first()
      .locator("a.chip", { hasText: "FROZEN" })
      .click();
    await page.waitForURL(/state=FROZEN/);
    expect(await count()).toBe(frozen);
    await page.close();
  });

  it("walks every page by keyset, most recently active first, without skipping or repeating a stack", async () => {
    // Ties on active_at are many (100 distinct times): the id breaks them, newest id first.
    const expected = [...seeded]
      .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : -1))
      .map((s) => s.id);
    const ids = (htmlText: string) =>
      [...htmlText.matchAll(/<tr data-stack="([^"]+)"/g)].map((m) => m[1] as string);
    const nextHref = (htmlText: string) =>
      /<a class="next" rel="next" href="([^"]+)"/.exec(htmlText)?.[1]?.replaceAll("&amp;", "&");

    // In the browser: the first pages, by clicking "Next".
    const page = await browser.newPage();
    await page.goto(`${base}/stacks?sort=-active&limit=500`);
    const clicked: string[] = [];
    for (let n = 0; n < 3; n++) {
      clicked.push(...ids(await page.content()));
      await page.locator("a.next").click();
      await page.waitForLoadState();
    }
    expect(clicked).toEqual(expected.slice(0, 1500));
    expect(page.problems).toEqual([]);
    await page.close();

    // Every page, following the same links over HTTP (the browser adds nothing to the keyset).
    const auth = { authorization: `Bearer ${TOKEN}` };
    const seen: string[] = [];
    let next: string | undefined = "/stacks?sort=-active&limit=500";
    for (let n = 0; next !== undefined && n <= STACKS / 500; n++) {
      const body = await (await fetch(`${base}${next}`, { headers: auth })).text();
      seen.push(...ids(body));
      next = nextHref(body);
    }
    expect(next).toBeUndefined();
    expect(seen).toEqual(expected);
  });
});
