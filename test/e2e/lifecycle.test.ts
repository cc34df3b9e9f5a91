import { existsSync, readFileSync } from "node:fs";
import { cp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  buildCli,
  cli,
  cliOk,
  type DevProcess,
  eventually,
  ROOT,
  removeDir,
  startDev,
  tempDataDir,
} from "./dev-harness.js";
import { showStack, stackStateOf } from "./stacks.js";

describe("stackseam dev: a stack's whole life, driven through the CLI", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let specsDir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    // A copy of the example specs, so the hot-reload test can edit them.
    specsDir = join(dataDir, "specs");
    await cp(join(ROOT, "examples/specs"), specsDir, { recursive: true });
    dev = await startDev({ dataDir, databaseUrl: db.url, specsDir });
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop("SIGINT")).toBe(0);
    await db?.drop();
    if (dataDir) await removeDir(dataDir);
  });

  it("prints where everything is and the commands to try once ready", () => {
    const out = dev.output();
    expect(out).toMatch(/send feature-1 LAUNCH --machine qa-env --meta apiImageTag=abc/);
    expect(out).toMatch(/AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/database\s+DATABASE_URL/);
    const info = dev.instance();
    expect(info.pid).toBe(dev.child.pid);
    expect(info.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("LAUNCH → RUN, FREEZE → FROZEN, DESTROY → removed, with the history in order", async () => {
    await cliOk(dataDir, ["send", "feature-1", "LAUNCH", "--machine", "qa-env", "--meta", "apiImageTag=abc"]);
    const running = await eventually("feature-1 in RUN", async () => {
      const s = await showStack(dataDir, "feature-1");
      return s && stackStateOf(s) === "RUN" ? s : undefined;
    });
    expect(JSON.stringify(running)).toContain("abc");
    const env = JSON.parse(readFileSync(join(dataDir, "envs/feature-1.json"), "utf8"));
    expect(env).toMatchObject({ stackId: "feature-1", status: "running", apiImageTag: "abc" });

    await cliOk(dataDir, ["send", "feature-1", "FREEZE"]);
    await eventually("feature-1 FROZEN", async () => {
      const s = await showStack(dataDir, "feature-1");
      return s && stackStateOf(s) === "FROZEN" ? true : undefined;
    });
    expect(JSON.parse(readFileSync(join(dataDir, "envs/feature-1.json"), "utf8")).status).toBe("frozen");

    await cliOk(dataDir, ["send", "feature-1", "DESTROY"]);
    await eventually("feature-1 removed", async () =>
      (await showStack(dataDir, "feature-1")) === null ? true : undefined,
    );
    expect(existsSync(join(dataDir, "envs/feature-1.json"))).toBe(false);

    const history = await cliOk(dataDir, ["stacks", "history", "feature-1"]);
    const order = ["LAUNCH", "FREEZE", "DESTROY"].map((e) => history.indexOf(e));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    for (const state of ["PROVISION", "RUN", "FREEZING", "FROZEN", "TEARDOWN"])
      expect(history).toContain(state);

    // The live log told the same story, one line per transition.
    await dev.waitFor(/feature-1\s+TEARDOWN → removed/);
    const out = dev.output();
    expect(out).toMatch(/feature-1\s+INIT → PROVISION\s+on LAUNCH/);
    expect(out).toMatch(/feature-1\s+PROVISION → RUN\s+\(1 task, [\d.]+ m?s\)/);
    expect(out).toMatch(/feature-1\s+✓ provision-env/);
  });

  it("refuses an event the state does not handle, with the reason in the history and the live log", async () => {
    await cliOk(dataDir, ["send", "feature-r", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=0"]);
    await eventually("feature-r in RUN", async () => {
      const s = await showStack(dataDir, "feature-r");
      return s && stackStateOf(s) === "RUN" ? true : undefined;
    });
    await cliOk(dataDir, ["send", "feature-r", "THAW"]);
    await dev.waitFor(/feature-r\s+refused THAW in RUN/);
    const history = await cliOk(dataDir, ["stacks", "history", "feature-r"]);
    expect(history).toMatch(/THAW/);
    expect(history).toMatch(/refused/i);
  });

  it("reloads an edited spec; an invalid edit is reported with line and column and the last good version serves", async () => {
    const file = join(specsDir, "qa-env.yml");
    const good = readFileSync(file, "utf8");
    await writeFile(file, good.replace("  RUN:\n    on:", "  RUN:\n    onn:"));
    await dev.waitFor(/spec qa-env: invalid edit, the last good version keeps serving/);
    await dev.waitFor(/qa-env\.yml:\d+:\d+: error: states\.RUN\.onn: unknown key "onn"/);

    await cliOk(dataDir, ["send", "feature-h", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=0"]);
    await eventually("feature-h in RUN on the last good spec", async () => {
      const s = await showStack(dataDir, "feature-h");
      return s && stackStateOf(s) === "RUN" ? true : undefined;
    });

    await writeFile(file, good);
    await dev.waitFor(/spec qa-env: loaded\n[\s\S]*spec qa-env: loaded/);
  });

  it("a second dev on the same data dir refuses to start", async () => {
    const r = await cli(dataDir, ["dev", "--port", "0", "--data-dir", dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already runs/);
  });
});
