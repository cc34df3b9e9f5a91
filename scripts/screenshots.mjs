#!/usr/bin/env node
// `npm run screenshots`: runs `stackseam dev` on a scratch database, drives a few stacks through the
// example machine (one failing the way Terraform does, one refused, one removed), and photographs
// each dashboard page with Chromium into docs/dashboard-*.png.
//
// Needs the build (`npm run screenshots` runs `tsc -b` first), Chromium at /usr/bin/chromium and a
// Postgres where a scratch database may be created: DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/postgres.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import { chromium } from "playwright-core";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const ADMIN = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const log = (line) => process.stderr.write(`screenshots: ${line}\n`);

// Functions for the shots: provisioning fails like a Terraform run when image_tag is "broken".
const FUNCTIONS = {
  "provision-env.mjs": `export async function handler({ stackId, metadata = {} }) {
  await new Promise((r) => setTimeout(r, 150));
  if (metadata.image_tag === "broken") {
    const e = new Error([
      "terraform apply failed (exit code 1)",
      "╷",
      "│ Warning: Argument is deprecated",
      "│   with module.env.aws_ecs_service.api, on modules/env/main.tf line 41",
      "╵",
      "╷",
      '│ Error: creating ECS Service (feature-billing-api): InvalidParameterException: The target group with targetGroupArn arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/feature-billing/6d0ecf831eec9f09 does not have an associated load balancer.',
      "│   with module.env.aws_ecs_service.api, on modules/env/main.tf line 37",
      "╵",
    ].join("\\n"));
    e.name = "TerraformApply";
    throw e;
  }
  return { outputs: { url: "https://" + stackId + ".qa.example.test", replicas: 1 } };
}
`,
  "freeze-env.mjs":
    "export async function handler() { await new Promise((r) => setTimeout(r, 100)); return {}; }\n",
  "thaw-env.mjs":
    "export async function handler() { await new Promise((r) => setTimeout(r, 100)); return {}; }\n",
  "destroy-env.mjs":
    "export async function handler() { await new Promise((r) => setTimeout(r, 100)); return {}; }\n",
};

async function admin(sql) {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function startDev(dataDir, functionsDir, databaseUrl) {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "packages/cli/dist/main.js"),
      "dev",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--functions",
      functionsDir,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  return new Promise((resolveDev, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev did not start:\n${out}`)), 60_000);
    const onData = (chunk) => {
      out += chunk.toString();
      const url = /dashboard\s+(http:\/\/\S+)/.exec(out)?.[1];
      if (url && /\bready\b/.test(out)) {
        clearTimeout(timer);
        resolveDev({ child, url: url.replace(/\/$/, "") });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`dev exited (${code}):\n${out}`)));
  });
}

async function main() {
  const name = `stackseam_shots_${randomBytes(4).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const dataDir = await mkdtemp(join(tmpdir(), "stackseam-shots-"));
  const functionsDir = join(dataDir, "functions");
  await mkdir(functionsDir);
  for (const [file, text] of Object.entries(FUNCTIONS)) await writeFile(join(functionsDir, file), text);
  let dev;
  let browser;
  const db = new pg.Client({ connectionString: databaseUrl });
  try {
    dev = await startDev(join(dataDir, "dev"), functionsDir, databaseUrl);
    await db.connect();
    log(`dev is up, dashboard on ${dev.url}`);
    const info = JSON.parse(await readFile(join(dataDir, "dev", "dev.json"), "utf8"));
    const sqs = new SQSClient({
      endpoint: info.endpoint,
      region: info.region,
      credentials: { accessKeyId: "shots", secretAccessKey: "shots" },
    });
    const send = (stackId, event, extra = {}) =>
      sqs.send(
        new SendMessageCommand({
          QueueUrl: info.eventQueueUrl,
          MessageBody: JSON.stringify({ stackId, event, ...extra }),
        }),
      );
    const stateOf = async (id) =>
      (await db.query("SELECT state, tasks FROM stacks WHERE id = $1", [id])).rows[0];
    const settle = async (id, test) => {
      for (let n = 0; n < 300; n++) {
        const row = await stateOf(id);
        if (test(row)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${id} did not settle`);
    };
    const running = (row) => row?.state === "RUN";
    const team = ["web", "payments", "search", "platform"];
    for (const [i, id] of [
      "login",
      "search",
      "cart",
      "billing",
      "checkout",
      "profile",
      "onboarding",
      "legacy-api",
    ].entries()) {
      const stack = `feature-${id}`;
      await send(stack, "LAUNCH", {
        machine: "qa-env",
        metadata: {
          image_tag: id === "billing" ? "broken" : randomBytes(4).toString("hex"),
          owner: `${team[i % team.length]}-team`,
          pr: 1200 + i * 7,
        },
      });
    }
    await send("feature-old", "LAUNCH", { machine: "qa-env", metadata: { owner: "web-team", pr: 1100 } });
    for (const id of ["login", "search", "cart", "checkout", "profile", "onboarding", "legacy-api"])
      await settle(`feature-${id}`, running);
    await settle("feature-billing", (row) => row?.tasks?.[0]?.status === "ERROR");
    await settle("feature-old", running);
    await send("feature-search", "FREEZE");
    await send("feature-legacy-api", "FREEZE");
    await send("feature-cart", "THAW");
    await send("feature-cart", "TOUCH", { metadata: { lastDeploy: "2026-11-30" } });
    await send("feature-old", "DESTROY");
    await settle("feature-search", (row) => row?.state === "FROZEN");
    await settle("feature-legacy-api", (row) => row?.state === "FROZEN");
    await settle("feature-old", (row) => row === undefined);
    await new Promise((r) => setTimeout(r, 500));
    sqs.destroy();

    const profile = await mkdtemp(join(tmpdir(), "stackseam-shots-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
      viewport: { width: 1280, height: 800 },
      deviceScaleFactor: 1,
    });
    const page = await browser.newPage();
    const shoot = async (file, path, before) => {
      await page.goto(`${dev.url}${path}`);
      await page.waitForLoadState("load");
      if (before) await before();
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(ROOT, "docs", file), fullPage: true });
      log(`docs/${file}`);
    };
    await shoot("dashboard-stacks.png", "/stacks");
    await shoot("dashboard-stack.png", "/stacks/feature-cart");
    await shoot("dashboard-failed.png", "/stacks/feature-billing", async () => {
      await page.locator("tr.task-error details.full summary").click();
    });
    await shoot("dashboard-confirm.png", "/stacks/feature-billing", async () => {
      await page.locator('a[data-action="retry-failed"]').click();
      await page.waitForURL(/confirm/);
    });
    await shoot("dashboard-machines.png", "/machines");
    await rm(profile, { recursive: true, force: true });
  } finally {
    await browser?.close().catch(() => undefined);
    await db.end().catch(() => undefined);
    if (dev) {
      const exited = new Promise((r) => dev.child.once("exit", r));
      dev.child.kill("SIGTERM");
      await exited;
    }
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
