#!/usr/bin/env node
// Builds the two Lambda release zips reproducibly: esbuild bundles (everything, the AWS SDK
// included, so the zip never depends on the runtime's SDK version), zipped by hand with fixed
// timestamps, permissions and entry order, so two builds of one commit are byte-identical and a
// signature made on one build verifies against another.
//
//   node scripts/build-release.mjs [--version 1.2.3] [--out release]
//
// Output (in --out): <name>-<version>.zip (index.mjs at the root, exporting `handler`),
// <name>-<version>.js.map (the source map, outside the zip: with the sources embedded it is many
// times the zip's size, and it is only needed to decode a stack trace) and SHA256SUMS (`sha256sum -c SHA256SUMS` format).
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { crc32, deflateRawSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The functions shipped as release zips: artefact name → workspace package folder. */
export const FUNCTIONS = /** @type {const} */ ({
  "state-manager": "packages/state-manager",
  "task-satisfier": "packages/task-satisfier",
});

/** What each zip's index.mjs exports: Lambda handler names (`index.<name>`). */
const ENTRY_EXPORTS = {
  "state-manager": ["handler", "tick"],
  "task-satisfier": ["handler"],
};

const WORKSPACE = ["core", "state-manager", "task-satisfier", "cli"];

// An ESM bundle has no `require`; CommonJS dependencies (pg, parts of the SDK) call it for Node
// built-ins, which esbuild leaves as runtime `require` calls.
const BANNER =
  'import{createRequire as __stackseamCreateRequire}from"node:module";const require=__stackseamCreateRequire(import.meta.url);';

// Optional native/alternative backends that are never used in Lambda and are not installed.
const EXTERNAL = ["pg-native"];

/**
 * Resolves `@stackseam/<pkg>` to its TypeScript source, and marks workspace library code free of
 * side effects (what `"sideEffects": false` does for an npm package) so a module nobody uses — the
 * spec parser and its YAML library in the Task Satisfier, say — is dropped as a whole. None of our
 * modules is imported for its side effects alone; the bundle smoke tests would catch one that was.
 */
function workspacePlugin() {
  const pureRoots = [
    join(root, "packages/core/src"),
    ...Object.values(FUNCTIONS).map((p) => join(root, p, "src/index.ts")),
  ];
  const isPure = (path) => pureRoots.some((r) => path === r || path.startsWith(`${r}/`));
  return {
    name: "stackseam-workspace",
    setup(build) {
      build.onResolve({ filter: /^@stackseam\/[a-z-]+$/ }, (args) => {
        const pkg = args.path.slice("@stackseam/".length);
        if (!WORKSPACE.includes(pkg)) return undefined;
        const path = join(root, "packages", pkg, "src/index.ts");
        return isPure(path) ? { path, sideEffects: false } : { path };
      });
      build.onResolve({ filter: /^\.\.?\// }, async (args) => {
        if (args.pluginData?.stackseamInner || !isPure(args.importer)) return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { stackseamInner: true },
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return isPure(resolved.path) ? { ...resolved, sideEffects: false } : resolved;
      });
    },
  };
}

/**
 * Loads `node:http`/`node:https` through `require` instead of `import`. Importing node:http from an
 * ES module builds its namespace object, which reads every export — including the lazy getters that
 * load Node's internal undici (fetch, WebSocket, EventSource): 10–20 ms of every cold start spent on
 * code the SDK never calls. `require` returns the exports object without touching those getters.
 */
function lazyBuiltinsPlugin() {
  return {
    name: "stackseam-lazy-builtins",
    setup(build) {
      build.onResolve({ filter: /^(node:)?https?$/ }, (args) =>
        // The shim's own require() is the real built-in.
        args.namespace === "stackseam-builtin"
          ? { path: args.path, external: true }
          : { path: args.path.replace(/^node:/, ""), namespace: "stackseam-builtin" },
      );
      build.onLoad({ filter: /.*/, namespace: "stackseam-builtin" }, (args) => ({
        contents: `module.exports = require("node:${args.path}");`,
        loader: "js",
      }));
    },
  };
}

/** Bundles one function; returns the module text, its source map and the esbuild metafile. */
export async function bundle(name) {
  const { build } = await import("esbuild");
  const result = await build({
    absWorkingDir: root,
    // The zip's module exports only its handlers: the package index also exports helpers for the
    // CLI and tests (migrations, queries…), which would otherwise be kept as entry-point exports.
    stdin: {
      contents: `export { ${ENTRY_EXPORTS[name].join(", ")} } from ${JSON.stringify(`./${FUNCTIONS[name]}/src/index.ts`)};\n`,
      resolveDir: root,
      sourcefile: `${FUNCTIONS[name]}/lambda-entry.ts`,
      loader: "ts",
    },
    // A virtual output at the repository root keeps the map's `sources` relative and machine-independent.
    outfile: join(root, "index.mjs"),
    write: false,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify: true,
    treeShaking: true,
    // ESM builds of the SDK tree-shake far better than its CommonJS ones.
    mainFields: ["module", "main"],
    // "module" picks the SDK's ESM builds where its export maps list them before "node" (CommonJS).
    // esbuild adds it only while no custom conditions are set; it is spelled out so it stays.
    conditions: ["module"],
    sourcemap: "external",
    sourcesContent: true,
    legalComments: "eof",
    banner: { js: BANNER },
    external: EXTERNAL,
    plugins: [workspacePlugin(), lazyBuiltinsPlugin()],
    metafile: true,
    logLevel: "warning",
    // Non-ASCII characters escaped: Node decodes an all-ASCII source faster, and V8 keeps it as a
    // one-byte string; 22 raw characters (ellipses, box drawing) made the 1.2 MB module a two-byte
    // one. Measured on a fresh process: decoding 9–12 ms → 5 ms, import about 4 ms less. esbuild
    // leaves regular expression literals as written, so those spell theirs as \u escapes (the
    // bundle smoke test checks every byte).
    charset: "ascii",
  });
  const js = result.outputFiles.find((f) => f.path.endsWith(".mjs"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  if (!js || !map) throw new Error(`esbuild produced no output for ${name}`);
  return { code: Buffer.from(js.contents), map: Buffer.from(map.contents), metafile: result.metafile };
}

/** DOS date/time words for a zip entry: SOURCE_DATE_EPOCH when set, else 1980-01-01 00:00 (the zip epoch). */
export function dosTimestamp(env = process.env) {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch === undefined || epoch === "") return { time: 0, date: (0 << 9) | (1 << 5) | 1 };
  const seconds = Number(epoch);
  if (!Number.isInteger(seconds) || seconds < 0)
    throw new Error(`SOURCE_DATE_EPOCH is not a whole number of seconds: ${epoch}`);
  const d = new Date(seconds * 1000);
  // UTC, so the result does not depend on the builder's time zone; DOS dates cannot go before 1980.
  if (d.getUTCFullYear() < 1980) return { time: 0, date: (0 << 9) | (1 << 5) | 1 };
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/**
 * Writes a zip archive deterministically: entries sorted by name, deflate level 9, fixed timestamp,
 * regular files with mode 0644, no extra fields. Same input bytes → same archive bytes.
 */
export function zipFiles(files, stamp = dosTimestamp()) {
  const entries = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, "utf8");
    const compressed = deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // flags: names are UTF-8
    local.writeUInt16LE(8, 8); // method: deflate
    local.writeUInt16LE(stamp.time, 10);
    local.writeUInt16LE(stamp.date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0 — so the external attributes carry a mode
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(stamp.time, 12);
    central.writeUInt16LE(stamp.date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, compressed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + compressed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Hex SHA-256 of a buffer. */
export function sha256(data) {
  return createHash("sha256").update(data).digest("hex");
}

/** The biggest inputs of a bundle, by bytes they contribute to the output (for the build log). */
function topInputs(metafile, n) {
  const byPackage = new Map();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const key = m ? m[1] : path.startsWith("packages/") ? path.split("/").slice(0, 2).join("/") : path;
      byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** Removes earlier artefacts so SHA256SUMS and the signatures describe exactly what is in the folder. */
async function cleanOut(outDir) {
  await mkdir(outDir, { recursive: true });
  const names = Object.keys(FUNCTIONS);
  for (const f of await readdir(outDir)) {
    if (f === "SHA256SUMS" || f === "SHA256SUMS.asc" || names.some((n) => f.startsWith(`${n}-`))) {
      await rm(join(outDir, f), { force: true });
    }
  }
}

/** Builds both zips, their source maps and SHA256SUMS into outDir; returns what was written. */
export async function buildRelease({ version, outDir, log = console.log }) {
  await cleanOut(outDir);
  const artefacts = [];
  const stamp = dosTimestamp();
  for (const name of Object.keys(FUNCTIONS)) {
    const { code, map, metafile } = await bundle(name);
    const zip = zipFiles([{ name: "index.mjs", data: code }], stamp);
    const zipName = `${name}-${version}.zip`;
    const mapName = `${name}-${version}.js.map`;
    await writeFile(join(outDir, zipName), zip);
    await writeFile(join(outDir, mapName), map);
    artefacts.push({ file: zipName, data: zip }, { file: mapName, data: map });
    const top = topInputs(metafile, 5)
      .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KiB`)
      .join(", ");
    log(
      `${zipName}: ${(zip.length / 1024).toFixed(0)} KiB zipped, ${(code.length / 1024).toFixed(0)} KiB index.mjs (largest: ${top})`,
    );
  }
  artefacts.sort((a, b) => (a.file < b.file ? -1 : 1));
  const sums = artefacts.map((a) => `${sha256(a.data)}  ${a.file}\n`).join("");
  await writeFile(join(outDir, "SHA256SUMS"), sums);
  log(`SHA256SUMS written to ${outDir}`);
  return { files: [...artefacts.map((a) => a.file), "SHA256SUMS"] };
}

async function main() {
  const { values } = parseArgs({
    options: { version: { type: "string" }, out: { type: "string", default: "release" } },
    strict: true,
  });
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
  const version = values.version ?? pkg.version;
  if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]*$/.test(version)) throw new Error(`not a usable version: ${version}`);
  await buildRelease({ version, outDir: resolve(values.out) });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((err) => {
    console.error(`build-release: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
