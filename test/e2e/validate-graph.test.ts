import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, cli, ROOT, removeDir } from "./dev-harness.js";

describe("stackseam validate and graph", { timeout: 120_000 }, () => {
  let dir: string;
  const examples = join(ROOT, "examples/specs");

  beforeAll(async () => {
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), "stackseam-validate-"));
    await cp(join(examples, "qa-env.yml"), join(dir, "good.yml"));
    await writeFile(
      join(dir, "typo.yml"),
      "version: 1\nevents: [GO]\nstates:\n  INIT:\n    onn: {}\n  DONE:\n    terminal: true\n",
    );
    await writeFile(join(dir, "broken.yaml"), "version: 1\nevents: [GO\nstates: {}\n");
    await writeFile(
      join(dir, "warn.yml"),
      "version: 1\nevents: [GO]\nstates:\n  INIT: {}\n  LOST: {}\n  DONE:\n    terminal: true\n",
    );
  });

  afterAll(async () => {
    if (dir) await removeDir(dir);
  });

  it("accepts the example specs (exit 0)", async () => {
    const r = await cli(dir, ["validate", examples]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/specs? checked: \d+ valid, 0 invalid/);
  });

  it("reports an error with file, line and column (exit 1)", async () => {
    const file = join(dir, "typo.yml");
    const r = await cli(dir, ["validate", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${file}:5:5: error: states.INIT.onn: unknown key "onn"`);
  });

  it("passes a spec with warnings only (exit 0) and prints them", async () => {
    const r = await cli(dir, ["validate", join(dir, "warn.yml")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/warn\.yml:\d+:\d+: warning: .*LOST/);
  });

  it("treats unreadable YAML as exit 2, with its position", async () => {
    const r = await cli(dir, ["validate", join(dir, "broken.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/broken\.yaml:\d+:\d+: error: YAML/);
  });

  it("exits 2 for a missing file or no arguments", async () => {
    const missing = await cli(dir, ["validate", join(dir, "nope.yml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yml: no such file or folder/);
    expect((await cli(dir, ["validate"])).code).toBe(2);
  });

  it("validates every spec of a folder, as JSON on request", async () => {
    const r = await cli(dir, ["validate", dir, "--json"]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { valid: boolean; files: { machine: string; valid: boolean }[] };
    expect(out.valid).toBe(false);
    expect(Object.fromEntries(out.files.map((f) => [f.machine, f.valid]))).toEqual({
      broken: false,
      good: true,
      typo: false,
      warn: true,
    });
  });

  it("draws a machine as Mermaid by default and as DOT on request", async () => {
    const mermaid = await cli(dir, ["graph", join(examples, "qa-env.yml")]);
    expect(mermaid.code).toBe(0);
    expect(mermaid.stdout).toMatch(/^stateDiagram-v2/);
    expect(mermaid.stdout).toContain("PROVISION --> RUN");
    const dot = await cli(dir, ["graph", join(examples, "qa-env.yml"), "--format", "dot"]);
    expect(dot.code).toBe(0);
    expect(dot.stdout).toMatch(/^digraph "qa-env" \{/);
  });

  it("graph refuses an invalid spec (1), an unknown format and a missing file (2)", async () => {
    const invalid = await cli(dir, ["graph", join(dir, "typo.yml")]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/typo\.yml:5:5: error/);
    expect((await cli(dir, ["graph", join(examples, "qa-env.yml"), "--format", "svg"])).code).toBe(2);
    expect((await cli(dir, ["graph", join(dir, "nope.yml")])).code).toBe(2);
  });
});
