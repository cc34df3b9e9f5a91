import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  buildCli,
  cliOk,
  type DevProcess,
  eventually,
  removeDir,
  startDev,
  tempDataDir,
} from "./dev-harness.js";
import { showStack, stackStateOf } from "./stacks.js";

describe("stackseam dev: stopped mid-provisioning, started again", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let dev: DevProcess | undefined;

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
  });

  afterAll(async () => {
    if (dev) await dev.stop("SIGINT");
    await db?.drop();
    if (dataDir) await removeDir(dataDir);
  });

  it("the stack still completes after a SIGTERM and a restart with the same data dir", async () => {
    dev = await startDev({ dataDir, databaseUrl: db.url });
    await cliOk(dataDir, ["send", "feature-s", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=1500"]);
    // The task is running when the signal lands.
    await dev.waitFor(/feature-s\s+▸ provision-env/);
    expect(await dev.stop("SIGTERM")).toBe(0);
    expect(existsSync(join(dataDir, "dev.json"))).toBe(false);
    // The in-flight task finished and reported, but nobody was left to apply the report.
    expect(dev.output()).toMatch(/feature-s\s+✓ provision-env/);

    dev = await startDev({ dataDir, databaseUrl: db.url });
    const stack = await eventually("feature-s in RUN after the restart", async () => {
      const s = await showStack(dataDir, "feature-s");
      return s && stackStateOf(s) === "RUN" ? s : undefined;
    });
    expect(stackStateOf(stack)).toBe("RUN");
    await dev.waitFor(/feature-s\s+PROVISION → RUN/);
    expect(await dev.stop("SIGINT")).toBe(0);
    dev = undefined;
  });

  it("a second Ctrl-C abandons the running task, and the next start runs it again", async () => {
    dev = await startDev({ dataDir, databaseUrl: db.url });
    await cliOk(dataDir, ["send", "feature-k", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=5000"]);
    await dev.waitFor(/feature-k\s+▸ provision-env/);
    dev.child.kill("SIGINT");
    await dev.waitFor(/Ctrl-C again to stop now/);
    expect(await dev.stop("SIGINT")).toBe(130);
    expect(dev.output()).not.toMatch(/feature-k\s+✓ provision-env/);
    expect(existsSync(join(dataDir, "dev.json"))).toBe(false);

    // The abandoned task message was made visible again, so it is delivered at once, not in 16 minutes.
    dev = await startDev({ dataDir, databaseUrl: db.url });
    await dev.waitFor(/feature-k\s+✓ provision-env/);
    await eventually("feature-k in RUN", async () => {
      const s = await showStack(dataDir, "feature-k");
      return s && stackStateOf(s) === "RUN" ? true : undefined;
    });
  });
});
