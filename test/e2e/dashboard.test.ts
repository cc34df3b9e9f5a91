// The dashboard in a real browser against `stackseam dev`: live updates, a failure and its retry
// from the page, and attacker-controlled text that must stay text.
import { rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type TestBrowser } from "../support/browser.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  buildCli,
  cli,
  cliOk,
  type DevProcess,
  ROOT,
  removeDir,
  startDev,
  tempDataDir,
} from "./dev-harness.js";

const FUNCTIONS = join(ROOT, "test/fixtures/dashboard-functions");
const PAYLOAD = `<img src=x onerror="window.__xss='meta'"><script>window.__xss='meta-script'</script>`;

/** The status of a GET sent with a chosen Host header (fetch does not let one set it). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

interface HistoryRow {
  event: string | null;
  eventKey: string;
  outcome: string;
  duplicate: boolean;
}

/** The stack's history rows, read directly (quicker than a CLI process per look). */
async function historyOf(url: string, stackId: string): Promise<HistoryRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<HistoryRow>(
      `SELECT event, event_key AS "eventKey", outcome, duplicate FROM history WHERE stack_id = $1 ORDER BY id`,
      [stackId],
    );
    return res.rows;
  } finally {
    await client.end();
  }
}

describe("dashboard in dev, in Chromium", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let dev: DevProcess;
  let browser: TestBrowser;
  let base: string;

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    [dev, browser] = await Promise.all([
      startDev({ dataDir, databaseUrl: db.url, functionsDir: FUNCTIONS }),
      launchBrowser(),
    ]);
    const url = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(dev.output())?.[1];
    if (!url) throw new Error(`dev printed no dashboard URL:\n${dev.output()}`);
    base = url.replace(/\/$/, "");
  });

  afterAll(async () => {
    await browser?.close();
    if (dev) expect(await dev.stop("SIGTERM")).toBe(0);
    await db?.drop();
    if (dataDir) await removeDir(dataDir);
  });

  it("shows a stack launched from the CLI reach RUN without reloading the page", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/stacks`);
    await page.evaluate("window.__sameDocument = true");
    await page.waitForSelector('#live-state[data-state="live"]');
    await cliOk(dataDir, ["send", "live-1", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs:=1500"]);
    // The list learns of the new stack, in PROVISION while its task runs…
    const row = page.locator('tr[data-stack="live-1"]');
    await row.locator(".state", { hasText: "PROVISION" }).waitFor();
    await row.locator("a.stack-link").click();
    await page.waitForURL(/\/stacks\/live-1$/);
    await page.evaluate("window.__sameDocument = true");
    // …and the stack's page follows it into RUN: the task completes while the page stays open.
    await page.locator(".current-state", { hasText: "RUN" }).waitFor();
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    expect(await page.locator('.diagram [data-state="RUN"].current').count()).toBe(1);
    expect(await page.locator(".timeline .event-name", { hasText: "TASK_COMPLETED" }).count()).toBe(1);
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it("shows a failure's Error: line, retries it from the page after a confirmation, and the retry succeeds once", async () => {
    const id = "broken-1";
    await writeFile(join(dataDir, `broken-${id}`), "");
    await cliOk(dataDir, ["send", id, "LAUNCH", "--machine", "qa-env", "--meta", `note=${PAYLOAD}`]);
    const page = await browser.newPage();
    await page.goto(`${base}/stacks/${id}`);
    const errorLine = page.locator("tr.task-error .error-line");
    await errorLine.waitFor();
    // The first Error: line, after the warning Terraform prints before it; markup shown as text.
    expect(await errorLine.textContent()).toContain(
      `Error: Invalid value for variable "image_tag": <img src=x onerror="window.__xss='failure'">`,
    );
    expect(await errorLine.textContent()).not.toContain("Warning");
    await page.locator("tr.task-error details.full summary").click();
    expect(await page.locator("tr.task-error details.full pre").textContent()).toContain(
      "Warning: Argument is deprecated",
    );

    // The cause is fixed; retry from the page.
    await rm(join(dataDir, `broken-${id}`));
    await page.locator('a[data-action="retry-failed"]').click();
    await page.waitForURL(/\/confirm\?/);
    expect(await page.locator("h1").textContent()).toContain(id);
    // Two submissions of the same confirmation (a double click, a resent form) act once.
    const fields = (await page.evaluate(
      `Object.fromEntries(new FormData(document.querySelector("form.confirm-form")))`,
    )) as Record<string, string>;
    const action = await page.locator("form.confirm-form").getAttribute("action");
    const second = await page.request.post(`${base}${action}`, {
      form: fields,
      maxRedirects: 0,
    });
    expect(second.status()).toBe(303);
    await page.locator("form.confirm-form button[data-confirm]").click();
    await page.waitForURL(new RegExp(`/stacks/${id}\\?sent=`));
    await page.locator(".current-state", { hasText: "RUN" }).waitFor();
    await page.locator(".timeline .badge.origin").first().waitFor();

    const key = new URL(page.url()).searchParams.get("sent") ?? "";
    expect(key).toMatch(/^dashboard-retry-failed-tasks-[0-9a-f]{20}$/);
    // However the two submissions interleaved, the event was applied once: any other row with its
    // key is a recorded duplicate.
    const history = await historyOf(db.url, id);
    const mine = history.filter((h) => h.eventKey === key);
    expect(mine.filter((h) => h.outcome === "applied" && !h.duplicate)).toHaveLength(1);
    expect(mine.filter((h) => !h.duplicate)).toHaveLength(1);
    expect(history.filter((h) => h.event === "RETRY_FAILED_TASKS" && !h.duplicate)).toHaveLength(1);

    // Attacker-controlled text (metadata, failure text) rendered as text; no script ran.
    expect(await page.locator(".metadata .value").first().textContent()).toBe(PAYLOAD);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it("refuses markup as a stack id, and shows one in the address as text", async () => {
    const refused = await cli(dataDir, ["send", "<script>x</script>", "LAUNCH", "--machine", "qa-env"]);
    expect(refused.code).toBe(2);
    const page = await browser.newPage();
    const res = await page.goto(
      `${base}/stacks/${encodeURIComponent(`<img src=x onerror="window.__xss='id'">`)}`,
    );
    expect(res?.status()).toBe(404);
    expect(await page.locator(".stack-id").first().textContent()).toBe(
      `<img src=x onerror="window.__xss='id'">`,
    );
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    await page.close();
  });

  it("refuses an action without the session's CSRF token", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/stacks/live-1`);
    const res = await page.request.post(`${base}/stacks/live-1/actions`, {
      form: { action: "event", event: "FREEZE", seen: "1", csrf: "forged" },
      maxRedirects: 0,
    });
    expect(res.status()).toBe(403);
    // A page from another name resolving to 127.0.0.1 (DNS rebinding) gets nothing.
    expect(await statusWithHost(`${base}/stacks`, "attacker.example")).toBe(421);
    await page.close();
  });
});
