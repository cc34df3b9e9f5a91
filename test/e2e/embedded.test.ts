import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  alive,
  buildCli,
  childPids,
  cliOk,
  type DevProcess,
  eventually,
  removeDir,
  startDev,
  tempDataDir,
} from "./dev-harness.js";
import { showStack, stackStateOf } from "./stacks.js";

function postmasterPid(dataDir: string): number {
  return Number.parseInt(readFileSync(join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n")[0]!, 10);
}

describe("stackseam dev with its embedded PostgreSQL", { timeout: 120_000 }, () => {
  let dataDir: string;
  let dev: DevProcess | undefined;

  beforeAll(async () => {
    await buildCli();
    dataDir = await tempDataDir();
  });

  afterAll(async () => {
    if (dev) await dev.stop("SIGINT");
    if (dataDir) await removeDir(dataDir);
  });

  it("initialises a cluster once, runs a stack, and SIGINT leaves no process behind", async () => {
    dev = await startDev({ dataDir, databaseUrl: null });
    expect(dev.output()).toMatch(/initialising a PostgreSQL cluster/);
    expect(dev.instance().databaseUrl).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    await cliOk(dataDir, ["send", "feature-e", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=0"]);
    await eventually("feature-e in RUN", async () => {
      const s = await showStack(dataDir, "feature-e");
      return s && stackStateOf(s) === "RUN" ? true : undefined;
    });

    const pgPid = postmasterPid(dataDir);
    expect(alive(pgPid)).toBe(true);
    // Every process dev started (the postmaster among them) must be gone after SIGINT.
    const children = childPids(dev.child.pid!);
    expect(children).toContain(pgPid);
    expect(await dev.stop("SIGINT")).toBe(0);
    dev = undefined;
    expect(alive(pgPid)).toBe(false);
    expect(children.filter(alive)).toEqual([]);
    expect(existsSync(join(dataDir, "dev.json"))).toBe(false);
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
  });

  it("a warm start keeps the data; after a SIGKILL the orphaned server is recovered", async () => {
    dev = await startDev({ dataDir, databaseUrl: null });
    expect(dev.output()).not.toMatch(/initialising a PostgreSQL cluster/);
    const s = await showStack(dataDir, "feature-e");
    expect(s && stackStateOf(s)).toBe("RUN");

    // A killed dev cannot stop its server: it keeps running, detached, on our data dir.
    const orphan = postmasterPid(dataDir);
    dev.child.kill("SIGKILL");
    await dev.exited;
    dev = undefined;
    expect(alive(orphan)).toBe(true);

    dev = await startDev({ dataDir, databaseUrl: null });
    expect(dev.output()).toMatch(new RegExp(`stopping an orphaned PostgreSQL \\(pid ${orphan}\\)`));
    expect(alive(orphan)).toBe(false);
    const again = await showStack(dataDir, "feature-e");
    expect(again && stackStateOf(again)).toBe("RUN");

    const pgPid = postmasterPid(dataDir);
    expect(await dev.stop("SIGINT")).toBe(0);
    dev = undefined;
    expect(alive(pgPid)).toBe(false);
  });
});
