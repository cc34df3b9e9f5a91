import { existsSync, readFileSync } from "node:fs";
import { cp, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, removeDir } from "../../../test/e2e/dev-harness.js";
import { runProgram } from "./support/cli.js";

const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

/** tsconfig.json allows comments; these files have only whole-line ones. */
function readTsconfig(file: string): { compilerOptions?: Record<string, string> } {
  const text = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => !l.trim().startsWith("//"))
    .join("\n");
  return JSON.parse(text);
}

describe("deleting a package's dist/ and building again", { timeout: 180_000 }, () => {
  let copy: string;

  beforeAll(async () => {
    // A copy of the repository's layout for one package, so the shared dist/ is left alone.
    copy = await mkdtemp(join(tmpdir(), "stackseam-build-info-"));
    await cp(join(ROOT, "tsconfig.base.json"), join(copy, "tsconfig.base.json"));
    for (const entry of ["src", "tsconfig.json", "package.json"]) {
      await cp(join(ROOT, "packages/core", entry), join(copy, "packages/core", entry), { recursive: true });
    }
    await symlink(join(ROOT, "node_modules"), join(copy, "node_modules"));
  });

  afterAll(async () => {
    if (copy) await removeDir(copy);
  });

  it("tsc -b rebuilds what was deleted", async () => {
    const build = () => runProgram(process.execPath, [TSC, "-b", "packages/core"], { cwd: copy });
    expect((await build()).code).toBe(0);
    expect(existsSync(join(copy, "packages/core/dist/index.js"))).toBe(true);
    await rm(join(copy, "packages/core/dist"), { recursive: true });
    const again = await build();
    expect(again.code, again.stdout).toBe(0);
    expect(existsSync(join(copy, "packages/core/dist/index.js"))).toBe(true);
    // Nothing left outside dist/ that could claim the build is current.
    expect(existsSync(join(copy, "packages/core/tsconfig.tsbuildinfo"))).toBe(false);
  });

  it("every package keeps its build info inside its dist/", () => {
    for (const pkg of ["core", "state-manager", "task-satisfier", "cli"]) {
      const options = readTsconfig(join(ROOT, "packages", pkg, "tsconfig.json")).compilerOptions ?? {};
      expect(options.outDir, pkg).toBe("dist");
      expect(options.tsBuildInfoFile, pkg).toBe("dist/tsconfig.tsbuildinfo");
    }
  });
});
