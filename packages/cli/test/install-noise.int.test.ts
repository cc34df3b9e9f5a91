import { readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, removeDir } from "../../../test/e2e/dev-harness.js";
import { runProgram } from "./support/cli.js";

/**
 * `npm ci` runs on the system's Node (npm's own), which may be older than the pinned Node 24 the
 * scripts use. Its EBADENGINE warnings must be the ones the README explains, and none for
 * Stackseam's own packages.
 */
describe("EBADENGINE warnings of npm ci", { timeout: 300_000 }, () => {
  let copy: string;

  beforeAll(async () => {
    copy = await mkdtemp(join(tmpdir(), "stackseam-npm-ci-"));
    const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { workspaces: string[] };
    await cp(join(ROOT, "package.json"), join(copy, "package.json"));
    await cp(join(ROOT, "package-lock.json"), join(copy, "package-lock.json"));
    for (const ws of root.workspaces) {
      await mkdir(join(copy, ws), { recursive: true });
      await cp(join(ROOT, ws, "package.json"), join(copy, ws, "package.json"));
    }
  });

  afterAll(async () => {
    if (copy) await removeDir(copy);
  });

  it("warns only about the third-party tools the README names", async () => {
    // The system's node and npm, as a newcomer's shell has them (not the pinned Node 24).
    const PATH = (process.env.PATH ?? "")
      .split(delimiter)
      .filter((d) => !d.includes("node_modules"))
      .join(delimiter);
    const r = await runProgram("npm", ["ci", "--dry-run", "--no-audit", "--no-fund"], {
      cwd: copy,
      env: { ...process.env, PATH },
    });
    expect(r.code, r.stderr).toBe(0);
    const warned = [...`${r.stdout}${r.stderr}`.matchAll(/EBADENGINE\s+package: '(@?[^@']+)@/g)].map(
      (m) => m[1]!,
    );
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const line = readme.split("\n").find((l) => l.includes("EBADENGINE")) ?? "";
    for (const name of warned) {
      expect(name.startsWith("@stackseam/") || name === "stackseam", name).toBe(false);
      expect(line, `README's EBADENGINE line names ${name}`).toContain(name);
    }
  });
});
