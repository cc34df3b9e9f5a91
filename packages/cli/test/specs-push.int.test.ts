import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildCli,
  type DevProcess,
  eventually,
  removeDir,
  startDev,
  tempDataDir,
} from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { stackseam } from "./support/cli.js";

const V1 = `version: 1
events: [LAUNCH, SHIP, POKE]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: BUILD }]
  BUILD:
    tasks: [compile]
    on:
      NEXT: [{ action: advance, state: READY }]
  READY:
    on:
      POKE: [{ action: no-op }]
      SHIP: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  compile:
    executor: lambda
    config: { name: compile }
`;

/** v1 with BUILD renamed COMPILE and POKE replaced by STOP: a stack in BUILD cannot move to it. */
const renamed = (policy: string) =>
  `upgrade: ${policy}\n${V1.replaceAll("BUILD", "COMPILE")
    .replace("[LAUNCH, SHIP, POKE]", "[LAUNCH, SHIP, STOP]")
    .replace("POKE: [{ action: no-op }]", "STOP: [{ action: advance, state: DONE }]")}`;

/** v1 plus an event: every live stack can move to it. */
const extended = `upgrade: on-state-entry\n${V1.replace(
  "[LAUNCH, SHIP, POKE]",
  "[LAUNCH, SHIP, POKE, PING]",
).replace(
  "      POKE: [{ action: no-op }]",
  "      POKE: [{ action: no-op }]\n      PING: [{ action: no-op }]",
)}`;

// compile fails when the stack's metadata says so: a stack then waits in BUILD with compile in ERROR.
const COMPILE = `export async function handler({ metadata = {} }) {
  if (metadata.fail === true) throw new Error("compile failed (metadata fail=true)");
  return {};
}
`;

describe("specs push against dev: the impact table, and --force exactly when stacks would be stranded", {
  timeout: 240_000,
}, () => {
  let db: TestDatabase;
  let dataDir: string;
  let work: string;
  let specsDir: string;
  let dev: DevProcess;
  const env = () => ({ STACKSEAM_DATA_DIR: dataDir });
  const cli = (...args: string[]) => stackseam(args, env());

  /** A folder holding one build.yml with `text`, to push from. */
  async function draft(name: string, text: string): Promise<string> {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "build.yml"), text);
    return dir;
  }
  const deployed = () => readFile(join(specsDir, "build.yml"), "utf8");

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    work = await tempDataDir();
    specsDir = join(work, "specs");
    const functionsDir = join(work, "functions");
    await mkdir(specsDir, { recursive: true });
    await mkdir(functionsDir, { recursive: true });
    await writeFile(join(specsDir, "build.yml"), V1);
    await writeFile(join(functionsDir, "compile.mjs"), COMPILE);
    dev = await startDev({ dataDir, databaseUrl: db.url, specsDir, functionsDir });

    for (const id of ["ok-1", "ok-2"])
      expect((await cli("send", id, "LAUNCH", "--machine", "build")).code).toBe(0);
    expect((await cli("send", "stuck-1", "LAUNCH", "--machine", "build", "--meta", "fail:=true")).code).toBe(
      0,
    );
    await eventually("ok-1, ok-2 READY and stuck-1 failed in BUILD", async () => {
      const r = await cli("stacks", "list", "--machine", "build", "--json");
      const list = JSON.parse(r.stdout || "[]") as {
        id: string;
        state: string;
        tasks: { status: string }[];
      }[];
      const by = new Map(list.map((s) => [s.id, s]));
      const done =
        by.get("ok-1")?.state === "READY" &&
        by.get("ok-2")?.state === "READY" &&
        by.get("stuck-1")?.tasks[0]?.status === "ERROR";
      return done ? true : undefined;
    });
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop("SIGTERM")).toBe(0);
    await db?.drop();
    for (const d of [dataDir, work]) if (d) await removeDir(d);
  });

  it("specs diff prints the change and the live stacks it touches, and uploads nothing", async () => {
    const r = await cli("specs", "diff", join(await draft("diff", renamed("manual")), "build.yml"));
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^machine build: [0-9a-f]{16} \(deployed in .*specs\) → [0-9a-f]{16}$/m);
    // Each change with the live stacks it touches: two in READY (POKE/STOP), one in BUILD.
    expect(r.stdout).toMatch(/removed\s+state BUILD\s+tasks \[compile\]; handles NEXT\s+1$/m);
    expect(r.stdout).toMatch(/added\s+state COMPILE\s+tasks \[compile\]; handles NEXT\s+0$/m);
    expect(r.stdout).toMatch(/removed\s+transition READY on POKE\s+no-op\s+2$/m);
    expect(r.stdout).toMatch(/added\s+transition READY on STOP\s+advance DONE\s+2$/m);
    expect(r.stdout).toMatch(/changed\s+transition INIT on LAUNCH\s+advance BUILD → advance COMPILE\s+0$/m);
    expect(r.stdout).toMatch(/BUILD\s+compile:ERROR\s+1\s+stuck-1\s+stranded: state BUILD does not exist/);
    expect(r.stdout).toMatch(/READY\s+-\s+2\s+ok-1, ok-2\s+can move/);
    expect(r.stdout).toContain("1 of 3 live stack(s) would be stranded on upgrade");
    expect(await deployed()).toBe(V1);
  });

  it("an on-state-entry push that strands stacks is refused without --force, with what to do", async () => {
    const dir = await draft("auto", renamed("on-state-entry"));
    const dry = await cli("specs", "push", dir, "--dry-run");
    expect(dry.code).toBe(1);
    const refused = await cli("specs", "push", dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("refused: machine build: 1 live stack(s) could not move to version");
    expect(refused.stderr).toContain("stackseam stacks upgrade --machine build --dry-run");
    expect(refused.stderr).toContain("nothing uploaded");
    expect(refused.stdout).toMatch(/changed\s+machine upgrade\s+manual → on-state-entry\s+3$/m);
    expect(await deployed()).toBe(V1);

    const forced = await cli("specs", "push", dir, "--force");
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain("--force: pushing although live stacks of build would be stranded");
    expect(await deployed()).toBe(renamed("on-state-entry"));
  });

  it("a manual-upgrade push that strands stacks goes through without --force (they keep their version)", async () => {
    const r = await cli("specs", "push", await draft("manual", renamed("manual")));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("1 of 3 live stack(s) would be stranded");
    expect(r.stdout).toContain("upgrade: manual");
    expect(r.stdout).toMatch(/copied .*build\.yml → .*specs\/build\.yml/);
    expect(await deployed()).toBe(renamed("manual"));
  });

  it("an on-state-entry push that strands no stack needs no --force", async () => {
    const r = await cli("specs", "push", await draft("extended", extended));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("every live stack (3) can run version");
    expect(r.stdout).toMatch(/added\s+event PING/);
    expect(await deployed()).toBe(extended);
  });

  it("stacks upgrade --dry-run and the upgrade itself through dev", async () => {
    const dry = await cli("stacks", "upgrade", "--machine", "build", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("3 would be upgraded");
    const real = await cli("stacks", "upgrade", "--machine", "build");
    expect(real.code).toBe(0);
    expect(real.stdout).toContain("3 upgrade(s) sent");
    const target = real.stdout.match(/current version ([0-9a-f]{16})/)![1];
    await eventually("every stack on the new version", async () => {
      const list = JSON.parse((await cli("stacks", "list", "--json")).stdout || "[]") as {
        version: string;
      }[];
      return list.length === 3 && list.every((s) => s.version === target) ? true : undefined;
    });
    const versions = await cli("specs", "versions", "build");
    expect(versions.stdout).toMatch(new RegExp(`${target}\\s+\\S+\\s+3\\s+current`));
  });
});
