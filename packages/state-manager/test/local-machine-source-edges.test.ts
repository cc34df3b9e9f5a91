// The folder machine source (MACHINE_LOCATOR=LOCAL_FS, `stackseam dev`; docs/state-manager.md) at
// its edges: a relative MACHINE_SPEC_DIR, a machine with both a .yml and a .yaml file, a folder
// that only looks like a spec file.
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { localMachineSource, type ReloadResult } from "@stackseam/state-manager";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FIXTURES } from "./helpers.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-local-specs-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the folder machine source", () => {
  it("reads a folder given relative to the working directory", async () => {
    await copyFile(join(FIXTURES, "qa-env.yml"), join(dir, "qa-env.yml"));
    const source = localMachineSource({ dir: relative(process.cwd(), dir) });
    expect((await source.get("qa-env")).ok).toBe(true);
  });

  it("refuses a machine with both a .yml and a .yaml file, naming both, once per change", async () => {
    await copyFile(join(FIXTURES, "qa-env.yml"), join(dir, "qa-env.yml"));
    await copyFile(join(FIXTURES, "qa-env.yml"), join(dir, "qa-env.yaml"));
    const reloads: ReloadResult[][] = [];
    const source = localMachineSource({ dir, onReload: (r) => reloads.push(r) });
    expect(await source.get("qa-env")).toEqual({
      ok: false,
      reason: `machine qa-env is ambiguous: both ${join(dir, "qa-env.yml")}, ${join(dir, "qa-env.yaml")} exist`,
      diagnostics: [],
    });
    expect((await source.get("qa-env")).ok).toBe(false);
    expect(reloads).toHaveLength(1);
  });

  it("does not take a folder named like a spec for one", async () => {
    await mkdir(join(dir, "fanout.yml"));
    const source = localMachineSource({ dir });
    expect((await source.get("fanout")).ok).toBe(false);
    expect(source.cached("fanout")).toBeUndefined();
  });
});
