// The release zips the app deploys: found by version, checked against SHA256SUMS (and against the
// release key when one is given) with scripts/verify-release.mjs before any asset is made of them.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { inflateRawSync } from "node:zlib";
import { ReleaseVerificationError } from "./errors.js";
import { scripts } from "./repo.js";

/** Where the release comes from and, optionally, the key that must have signed it. */
export interface ReleaseSource {
  dir: string;
  version: string;
  /** Armoured public key file; when set, every signature is checked as `npm run verify-release` does. */
  publicKeyFile?: string;
  /** Primary-key fingerprint the signer must have (with publicKeyFile). */
  fingerprint?: string;
}

/** One verified function zip. */
export interface ReleaseZip {
  path: string;
  sha256: string;
  /** Names index.mjs exports (`handler`, and `tick` in releases that have timers). */
  exports: readonly string[];
}

/** A release whose zips matched SHA256SUMS when it was loaded. */
export interface VerifiedRelease {
  dir: string;
  version: string;
  /** True when the signatures were checked against a key, not only the checksums. */
  signed: boolean;
  zips: Readonly<Record<"state-manager" | "task-satisfier", ReleaseZip>>;
}

/** The zip file name of one function, as scripts/build-release.mjs writes it. */
export const zipName = (fn: string, version: string): string => `${fn}-${version}.zip`;

/**
 * The names an ES module bundle exports, read from its final `export{…}` clause (esbuild writes
 * exactly one). Enough to tell whether a release has the tick entry point without running it.
 */
export function bundleExports(code: string): string[] {
  const clauses = [...code.matchAll(/export\s*\{([^}]*)\}/g)];
  const last = clauses.at(-1)?.[1];
  if (last === undefined) return [];
  return last
    .split(",")
    .map(
      (part) =>
        part
          .trim()
          .split(/\s+as\s+/)
          .at(-1)
          ?.trim() ?? "",
    )
    .filter((name) => name !== "")
    .sort();
}

/**
 * The bytes of one stored or deflated entry of a zip, through its central directory. The release
 * zips hold a single index.mjs; their checksums were verified before this runs.
 */
export function zipEntry(zip: Buffer, name: string): Buffer | null {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) return null;
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = zip.readUInt16LE(eocd + 10); i > 0; i--) {
    if (zip.readUInt32LE(at) !== 0x02014b50) return null;
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const entryName = zip.toString("utf8", at + 46, at + 46 + nameLength);
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    if (entryName !== name) continue;
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + size);
    return method === 8 ? inflateRawSync(raw) : method === 0 ? Buffer.from(raw) : null;
  }
  return null;
}

/** Finds and verifies the release; throws ReleaseVerificationError listing every problem. */
export function loadRelease(source: ReleaseSource): VerifiedRelease {
  const dir = resolve(source.dir);
  const problems: string[] = [];
  const names = Object.keys(scripts.build.FUNCTIONS);
  const wanted = names.map((fn) => zipName(fn, source.version));
  if (!existsSync(join(dir, "SHA256SUMS"))) {
    throw new ReleaseVerificationError(dir, [
      `SHA256SUMS: missing in ${dir} (run npm run build-release, or download the release with its SHA256SUMS)`,
    ]);
  }
  if (source.publicKeyFile !== undefined) {
    problems.push(
      ...scripts.verify.verifyRelease({
        keyFile: resolve(source.publicKeyFile),
        dir,
        ...(source.fingerprint !== undefined ? { fingerprint: source.fingerprint } : {}),
      }),
    );
  } else {
    const sums = scripts.verify.checkSums(dir);
    problems.push(...sums.problems);
    for (const file of wanted) {
      if (existsSync(join(dir, file)) && !sums.listed.has(file))
        problems.push(`${file}: not listed in SHA256SUMS`);
    }
  }
  for (const file of wanted) {
    if (!existsSync(join(dir, file))) problems.push(`${file}: missing in ${dir} (version ${source.version})`);
  }
  if (problems.length > 0) throw new ReleaseVerificationError(dir, [...new Set(problems)]);

  const zips: Record<string, ReleaseZip> = {};
  for (const fn of names) {
    const path = join(dir, zipName(fn, source.version));
    const data = readFileSync(path);
    const code = zipEntry(data, "index.mjs");
    if (code === null)
      throw new ReleaseVerificationError(dir, [`${zipName(fn, source.version)}: no index.mjs`]);
    zips[fn] = { path, sha256: scripts.build.sha256(data), exports: bundleExports(code.toString("utf8")) };
  }
  for (const fn of names) {
    if (!zips[fn]?.exports.includes("handler")) {
      throw new ReleaseVerificationError(dir, [
        `${zipName(fn, source.version)}: index.mjs exports no handler`,
      ]);
    }
  }
  return {
    dir,
    version: source.version,
    signed: source.publicKeyFile !== undefined,
    zips: zips as VerifiedRelease["zips"],
  };
}
