#!/usr/bin/env node
// Verifies a downloaded release before anyone uploads it: every signature must be valid AND made by
// the given public key (imported into a throwaway keyring — never the user's), every zip must be
// signed and listed in SHA256SUMS, and every checksum must match.
//
//   node scripts/verify-release.mjs --key <public-key-file> [--fingerprint <FPR>] [--dir release]
//
// Exit 0 when everything holds; otherwise exit 1 after listing every problem, each naming its file.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const SUMS = "SHA256SUMS";

function run(gpg, home, args) {
  const res = spawnSync(gpg, ["--batch", "--no-tty", "--homedir", home, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (res.error) throw new Error(`cannot run ${gpg}: ${res.error.message}`);
  return res;
}

/** Primary-key fingerprints in a keyring (from `--with-colons` output). */
function primaryFingerprints(colons) {
  const out = [];
  // The first `fpr` record after a `pub` record is the primary key's; later ones belong to subkeys.
  let primaryNext = false;
  for (const line of colons.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === "pub") primaryNext = true;
    else if (fields[0] === "sub") primaryNext = false;
    else if (fields[0] === "fpr" && primaryNext) {
      if (fields[9]) out.push(fields[9].toUpperCase());
      primaryNext = false;
    }
  }
  return out;
}

/** Checks one detached signature; returns a problem sentence or null. */
function checkSignature(gpg, home, dir, file, allowed) {
  const sig = join(dir, `${file}.asc`);
  if (!existsSync(sig)) return `${file}: signature ${file}.asc is missing`;
  const res = run(gpg, home, [
    "--no-auto-key-retrieve",
    // The fingerprint check below is the trust decision; gpg's web of trust has nothing to add here.
    "--trust-model",
    "always",
    "--status-fd",
    "1",
    "--verify",
    sig,
    join(dir, file),
  ]);
  const status = res.stdout.split("\n").filter((l) => l.startsWith("[GNUPG:] "));
  if (status.some((l) => l.startsWith("[GNUPG:] BADSIG"))) {
    return `${file}: BAD signature — the file does not match ${file}.asc (tampered or corrupted)`;
  }
  if (status.some((l) => l.startsWith("[GNUPG:] ERRSIG") || l.startsWith("[GNUPG:] NO_PUBKEY"))) {
    return `${file}: ${file}.asc was not made by the given key (${allowed.join(", ")})`;
  }
  if (res.status !== 0) {
    return `${file}: gpg could not verify ${file}.asc (exit ${res.status}): ${res.stderr.trim().split("\n").at(-1) ?? ""}`;
  }
  const valid = status
    .filter((l) => l.startsWith("[GNUPG:] VALIDSIG "))
    .map((l) => l.trim().split(/\s+/).at(-1)?.toUpperCase() ?? "");
  if (valid.length === 0) return `${file}: ${file}.asc carries no valid signature`;
  const foreign = valid.filter((fpr) => !allowed.includes(fpr));
  if (foreign.length > 0)
    return `${file}: ${file}.asc was signed by ${foreign.join(", ")}, not by ${allowed.join(", ")}`;
  return null;
}

/** Checks SHA256SUMS against the files; returns problem sentences and the names it lists. */
export function checkSums(dir) {
  const problems = [];
  const listed = new Set();
  const text = readFileSync(join(dir, SUMS), "utf8");
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const m = /^([0-9a-f]{64}) [ *]([A-Za-z0-9._+-]+)$/.exec(line);
    if (!m) {
      problems.push(`${SUMS}: line ${i + 1} is not "<sha256>  <file name>": ${JSON.stringify(line)}`);
      continue;
    }
    const [, want, name] = m;
    listed.add(name);
    const path = join(dir, name);
    if (!existsSync(path)) {
      problems.push(`${name}: listed in ${SUMS} but missing`);
      continue;
    }
    const got = createHash("sha256").update(readFileSync(path)).digest("hex");
    if (got !== want) problems.push(`${name}: SHA-256 mismatch (expected ${want}, got ${got})`);
  }
  return { problems, listed };
}

/** Verifies a release folder against a public key file; returns the list of problems (empty = valid). */
export function verifyRelease({ keyFile, dir, fingerprint, gpg = process.env.GPG ?? "gpg" }) {
  if (!existsSync(keyFile)) return [`${keyFile}: public key file not found`];
  if (!existsSync(join(dir, SUMS))) return [`${SUMS}: missing in ${dir}`];
  const home = mkdtempSync(join(tmpdir(), "stackseam-verify-"));
  try {
    const imported = run(gpg, home, ["--import", keyFile]);
    if (imported.status !== 0) return [`${keyFile}: gpg could not import the key: ${imported.stderr.trim()}`];
    const allowed = primaryFingerprints(run(gpg, home, ["--with-colons", "--list-keys"]).stdout);
    if (allowed.length === 0) return [`${keyFile}: contains no public key`];
    if (fingerprint) {
      const want = fingerprint.replace(/\s+/g, "").toUpperCase();
      if (!allowed.includes(want))
        return [`${keyFile}: holds ${allowed.join(", ")}, not the expected ${want}`];
      allowed.splice(0, allowed.length, want);
    }
    const problems = [];
    const zips = readdirSync(dir)
      .filter((f) => f.endsWith(".zip"))
      .sort();
    if (zips.length === 0) problems.push(`${dir}: no .zip files to verify`);
    for (const file of [SUMS, ...zips]) {
      const p = checkSignature(gpg, home, dir, file, allowed);
      if (p) problems.push(p);
    }
    const sums = checkSums(dir);
    problems.push(...sums.problems);
    for (const zip of zips) if (!sums.listed.has(zip)) problems.push(`${zip}: not listed in ${SUMS}`);
    return problems;
  } finally {
    // gpg may have started an agent for the throwaway home; stop it before deleting the folder.
    spawnSync("gpgconf", ["--homedir", home, "--kill", "all"], { stdio: "ignore" });
    rmSync(home, { recursive: true, force: true });
  }
}

function main() {
  const { values } = parseArgs({
    options: {
      key: { type: "string" },
      fingerprint: { type: "string" },
      dir: { type: "string", default: "release" },
    },
    strict: true,
  });
  if (!values.key) throw new Error("--key <public-key-file> is required");
  const dir = resolve(values.dir);
  const problems = verifyRelease({
    keyFile: resolve(values.key),
    dir,
    ...(values.fingerprint ? { fingerprint: values.fingerprint } : {}),
  });
  if (problems.length > 0) {
    console.error(`verify-release: FAILED for ${dir}`);
    for (const p of problems) console.error(`  - ${p}`);
    process.exit(1);
  }
  console.log(
    `verify-release: OK — every signature is by the given key and every checksum matches in ${dir}`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    main();
  } catch (err) {
    console.error(`verify-release: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
