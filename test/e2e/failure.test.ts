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
import { showStack, stackStateOf, stackTasksOf } from "./stacks.js";

describe("stackseam dev: a failing task and its retry", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    dev = await startDev({ dataDir, databaseUrl: db.url });
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop("SIGTERM")).toBe(0);
    await db?.drop();
    if (dataDir) await removeDir(dataDir);
  });

  it("shows the task ERROR with the function's message, and RETRY_FAILED_TASKS with the fix completes it", async () => {
    await cliOk(dataDir, [
      "send",
      "feature-f",
      "LAUNCH",
      "--machine",
      "qa-env",
      "--meta",
      "failProvision=true",
      "--meta",
      "delayMs=0",
    ]);
    const failed = await eventually("provision-env in ERROR", async () => {
      const s = await showStack(dataDir, "feature-f");
      const task = s && stackTasksOf(s).find((t) => t.name === "provision-env");
      return task?.status === "ERROR" ? { stack: s, task } : undefined;
    });
    expect(stackStateOf(failed.stack!)).toBe("PROVISION");
    expect(failed.task.description).toMatch(/provisioning feature-f failed: metadata failProvision=true/);
    // The same reason, readable by a person, in the human output too.
    expect(await cliOk(dataDir, ["stacks", "show", "feature-f"])).toMatch(/provisioning feature-f failed/);
    await dev.waitFor(/feature-f\s+✗ provision-env/);

    await cliOk(dataDir, ["send", "feature-f", "RETRY_FAILED_TASKS", "--meta", "failProvision=false"]);
    const done = await eventually("feature-f in RUN", async () => {
      const s = await showStack(dataDir, "feature-f");
      return s && stackStateOf(s) === "RUN" ? s : undefined;
    });
    expect(stackTasksOf(done)).toEqual([]);
    await dev.waitFor(/feature-f\s+RETRY_FAILED_TASKS in PROVISION: re-sent provision-env/);
    await dev.waitFor(/feature-f\s+PROVISION → RUN/);
  });
});
