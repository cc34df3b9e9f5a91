import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, buildCli, eventually, removeDir, tempDataDir } from "../../../test/e2e/dev-harness.js";
import { spawnProgram, terminalEnv } from "./support/cli.js";

/**
 * `npm run dev &` then a signal to npm's pid, as a script does: dev and its embedded PostgreSQL
 * must stop cleanly and leave the data dir free for the next start. Each case starts dev again
 * on the same data dir, so each start also proves the previous stop unlocked it.
 */
describe("stopping dev from a script through npm", { timeout: 240_000 }, () => {
  let dataDir: string;

  beforeAll(async () => {
    await buildCli();
    dataDir = await tempDataDir();
  });

  afterAll(async () => {
    if (dataDir) await removeDir(dataDir);
  });

  async function startThroughNpm(launcher: "npm run" | "npx") {
    const args =
      launcher === "npm run"
        ? ["run", "dev", "--", "--port", "0", "--data-dir", dataDir]
        : ["stackseam", "dev", "--port", "0", "--data-dir", dataDir];
    const npm = spawnProgram(launcher === "npm run" ? "npm" : "npx", args, { env: terminalEnv() });
    const state = await eventually(`dev ready under ${launcher}`, async () => {
      if (/\bready\b/.test(npm.output())) return "ready";
      return npm.child.exitCode !== null ? "exited" : undefined;
    });
    if (state === "exited") throw new Error(`npm exited before dev was ready:\n${npm.output()}`);
    const devPid = (JSON.parse(readFileSync(join(dataDir, "dev.json"), "utf8")) as { pid: number }).pid;
    const pgPid = Number.parseInt(
      readFileSync(join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n")[0]!,
      10,
    );
    expect(alive(devPid)).toBe(true);
    expect(alive(pgPid)).toBe(true);
    return { npm, devPid, pgPid };
  }

  async function expectAllStopped(run: Awaited<ReturnType<typeof startThroughNpm>>) {
    await eventually("dev and PostgreSQL gone", async () =>
      !alive(run.devPid) && !alive(run.pgPid) ? true : undefined,
    );
    await run.npm.exited;
    // Clean shutdown, not a kill: dev said so, and removed its lock files.
    expect(run.npm.output()).toMatch(/\bstopped\b/);
    expect(existsSync(join(dataDir, "dev.json"))).toBe(false);
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
  }

  it("SIGINT to `npm run dev` stops dev and PostgreSQL; npm exits 0", async () => {
    const run = await startThroughNpm("npm run");
    run.npm.child.kill("SIGINT");
    await expectAllStopped(run);
    expect((await run.npm.exited).code).toBe(0);
    expect(run.npm.output()).toMatch(/SIGINT: stopping/);
  });

  it("SIGTERM to `npm run dev` does the same", async () => {
    const run = await startThroughNpm("npm run");
    run.npm.child.kill("SIGTERM");
    await expectAllStopped(run);
    expect((await run.npm.exited).code).toBe(0);
    expect(run.npm.output()).toMatch(/SIGTERM: stopping/);
  });

  it("SIGKILL to npm (it cannot forward anything): dev notices and stops", async () => {
    const run = await startThroughNpm("npm run");
    run.npm.child.kill("SIGKILL");
    await eventually("dev and PostgreSQL gone", async () =>
      !alive(run.devPid) && !alive(run.pgPid) ? true : undefined,
    );
    expect(existsSync(join(dataDir, "dev.json"))).toBe(false);
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
    // npm's pipe is gone with npm: the log file tells how dev stopped.
    expect(readFileSync(join(dataDir, "postgres.log"), "utf8")).toMatch(/received fast shutdown request/);
  });

  it("SIGTERM to `npx stackseam dev` (npm runs it through a shell that dies): dev stops", async () => {
    const run = await startThroughNpm("npx");
    run.npm.child.kill("SIGTERM");
    await expectAllStopped(run);
  });
});
