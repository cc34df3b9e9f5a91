#!/usr/bin/env node
// Makes detached ASCII-armoured signatures for every release zip and for SHA256SUMS (which covers
// the source maps too), with the release key in the caller's keyring (GNUPGHOME is honoured).
//
//   node scripts/sign-release.mjs --key <KEYID or fingerprint> [--dir release]
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/** Files a release signs: the zips and SHA256SUMS, in a stable order. */
export function filesToSign(dir) {
  const zips = readdirSync(dir)
    .filter((f) => f.endsWith(".zip"))
    .sort();
  if (zips.length === 0) throw new Error(`no .zip files in ${dir}: run npm run build-release first`);
  if (!existsSync(join(dir, "SHA256SUMS"))) throw new Error(`${join(dir, "SHA256SUMS")} is missing`);
  return [...zips, "SHA256SUMS"];
}

/** Signs each release file with gpg (no shell: the key id is passed as an argument). */
export function signRelease({ key, dir, gpg = process.env.GPG ?? "gpg", log = console.log }) {
  for (const file of filesToSign(dir)) {
    const path = join(dir, file);
    const res = spawnSync(
      gpg,
      ["--batch", "--yes", "--armor", "--detach-sign", "--local-user", key, "--output", `${path}.asc`, path],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    if (res.error) throw new Error(`cannot run ${gpg}: ${res.error.message}`);
    if (res.status !== 0)
      throw new Error(`gpg could not sign ${file} with key ${key}:\n${res.stderr.trim()}`);
    log(`signed ${file} → ${file}.asc`);
  }
}

function main() {
  const { values } = parseArgs({
    options: { key: { type: "string" }, dir: { type: "string", default: "release" } },
    strict: true,
  });
  if (!values.key) throw new Error("--key <KEYID> is required (the release signing key in your keyring)");
  signRelease({ key: values.key, dir: resolve(values.dir) });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    main();
  } catch (err) {
    console.error(`sign-release: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
