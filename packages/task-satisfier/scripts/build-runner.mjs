#!/usr/bin/env node
// Bundles the remote runner's entry point (src/runner-main.ts) into one ES module, the AWS SDK
// included, for the runner container image (see ../Dockerfile) or any Node 24 host:
//
//   node packages/task-satisfier/scripts/build-runner.mjs [--out packages/task-satisfier/dist-runner/runner.mjs]
//
// The image itself is not built in this repository's CI: there is no container engine here.
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(pkg, "../..");

// An ESM bundle has no `require`; CommonJS dependencies call it for Node built-ins.
const BANNER =
  'import{createRequire as __stackseamCreateRequire}from"node:module";const require=__stackseamCreateRequire(import.meta.url);';

/** Bundles the runner into `outfile` (written) and returns its path. */
export async function bundleRunner(outfile = join(pkg, "dist-runner", "runner.mjs")) {
  const { build } = await import("esbuild");
  await mkdir(dirname(outfile), { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: [join(pkg, "src", "runner-main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify: true,
    sourcemap: "linked",
    mainFields: ["module", "main"],
    conditions: ["module"],
    banner: { js: BANNER },
    alias: Object.fromEntries(
      ["core", "task-satisfier"].map((p) => [
        `@stackseam/${p}`,
        join(root, "packages", p, "src", "index.ts"),
      ]),
    ),
    logLevel: "warning",
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const out = await bundleRunner(values.out ? resolve(values.out) : undefined);
  process.stdout.write(`${out}\n`);
}
