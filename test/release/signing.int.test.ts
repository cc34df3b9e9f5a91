import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildInto,
  createTestKey,
  FUNCTIONS,
  run,
  script,
  TEST_VERSION,
  type TestKey,
} from "./release-helpers.js";
import { readZip } from "./zip-reader.js";

const zipName = (fn: string) => `${fn}-${TEST_VERSION}.zip`;

describe("release build, signing and verification", () => {
  let release: string;
  let key: TestKey;
  let other: TestKey;
  const scratch: string[] = [];

  /** A private copy of the signed release that a test may damage. */
  async function copyOfRelease(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "stackseam-release-copy-"));
    scratch.push(dir);
    await cp(release, dir, { recursive: true });
    return dir;
  }

  const verify = (dir: string, keyFile: string, extra: string[] = []) =>
    script("verify-release.mjs", ["--key", keyFile, "--dir", dir, ...extra]);

  beforeAll(async () => {
    [release, key, other] = await Promise.all([
      buildInto("stackseam-release-"),
      createTestKey("Stackseam Test"),
      createTestKey("Someone Else"),
    ]);
    const signed = await script("sign-release.mjs", ["--key", key.fingerprint, "--dir", release], key.env);
    if (signed.code !== 0) throw new Error(`sign-release failed:\n${signed.stdout}\n${signed.stderr}`);
  });

  afterAll(async () => {
    await Promise.all([
      key?.stop(),
      other?.stop(),
      release && rm(release, { recursive: true, force: true }),
      ...scratch.map((d) => rm(d, { recursive: true, force: true })),
    ]);
  });

  it("writes both zips, their source maps, SHA256SUMS and the signatures", async () => {
    const files = (await readdir(release)).sort();
    expect(files).toEqual(
      [
        "SHA256SUMS",
        "SHA256SUMS.asc",
        ...FUNCTIONS.flatMap((fn) => [`${fn}-${TEST_VERSION}.js.map`, zipName(fn), `${zipName(fn)}.asc`]),
      ].sort(),
    );
    const sums = await readFile(join(release, "SHA256SUMS"), "utf8");
    for (const fn of FUNCTIONS) {
      expect(sums).toMatch(new RegExp(`^[0-9a-f]{64}  ${zipName(fn).replaceAll(".", "\\.")}$`, "m"));
      expect(sums).toMatch(
        new RegExp(`^[0-9a-f]{64}  ${fn}-${TEST_VERSION.replaceAll(".", "\\.")}\\.js\\.map$`, "m"),
      );
    }
  });

  it("puts exactly index.mjs at the zip root, mode 0644, at the fixed 1980-01-01 timestamp", async () => {
    for (const fn of FUNCTIONS) {
      const entries = readZip(await readFile(join(release, zipName(fn))));
      expect(entries.map((e) => e.name)).toEqual(["index.mjs"]);
      const [entry] = entries;
      expect(entry?.mode).toBe(0o100644);
      expect(entry?.dosDate).toBe((0 << 9) | (1 << 5) | 1);
      expect(entry?.dosTime).toBe(0);
      expect(entry?.method).toBe(8);
      const code = entry?.data.toString("utf8") ?? "";
      expect(code).toMatch(/export\s*\{[^}]*\bas handler\b|export\s*\{[^}]*\bhandler\b/);
      // The map travels separately: no reference to a file the zip does not contain.
      expect(code).not.toContain("sourceMappingURL");
      expect(code).toContain("createRequire");
    }
  });

  it("keeps each zip within the 1.5 MB budget", async () => {
    for (const fn of FUNCTIONS) {
      const size = (await readFile(join(release, zipName(fn)))).length;
      expect(size, `${fn} zip is ${size} bytes`).toBeLessThanOrEqual(1.5 * 1024 * 1024);
    }
  });

  it("produces byte-identical artefacts when built again", async () => {
    const again = await buildInto("stackseam-release-again-");
    scratch.push(again);
    for (const f of [
      ...FUNCTIONS.flatMap((fn) => [zipName(fn), `${fn}-${TEST_VERSION}.js.map`]),
      "SHA256SUMS",
    ]) {
      const a = await readFile(join(release, f));
      const b = await readFile(join(again, f));
      expect(a.equals(b), `${f} differs between two builds`).toBe(true);
    }
  });

  it("stamps entries with SOURCE_DATE_EPOCH (UTC) when it is set", async () => {
    // 1700000000 = 2023-11-14 22:13:20 UTC
    const stamped = await buildInto("stackseam-release-epoch-", {
      ...process.env,
      SOURCE_DATE_EPOCH: "1700000000",
    });
    scratch.push(stamped);
    const [entry] = readZip(await readFile(join(stamped, zipName("state-manager"))));
    expect(entry?.dosDate).toBe(((2023 - 1980) << 9) | (11 << 5) | 14);
    expect(entry?.dosTime).toBe((22 << 11) | (13 << 5) | (20 / 2));
    const plain = readZip(await readFile(join(release, zipName("state-manager"))));
    expect(entry?.data.equals(plain[0]?.data ?? Buffer.alloc(0))).toBe(true);
  });

  it("verifies a signed release with the signer's public key", async () => {
    const r = await verify(release, key.publicKeyFile);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("verify-release: OK");
  });

  it("verifies when the expected fingerprint is pinned", async () => {
    const r = await verify(release, key.publicKeyFile, ["--fingerprint", key.fingerprint]);
    expect(r.code).toBe(0);
  });

  it("passes the documented plain-gpg and sha256sum checks", async () => {
    for (const fn of FUNCTIONS) {
      const r = await run("gpg", ["--verify", `${zipName(fn)}.asc`, zipName(fn)], {
        env: key.env,
        cwd: release,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain("Good signature");
    }
    const sums = await run("gpg", ["--verify", "SHA256SUMS.asc", "SHA256SUMS"], {
      env: key.env,
      cwd: release,
    });
    expect(sums.code, sums.stderr).toBe(0);
    if (existsSync("/usr/bin/sha256sum")) {
      const c = await run("/usr/bin/sha256sum", ["-c", "SHA256SUMS"], { cwd: release });
      expect(c.code, c.stdout + c.stderr).toBe(0);
    }
  });

  it("fails on a zip with one flipped byte, naming the file", async () => {
    const dir = await copyOfRelease();
    const target = join(dir, zipName("task-satisfier"));
    const bytes = await readFile(target);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await writeFile(target, bytes);
    const r = await verify(dir, key.publicKeyFile);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${zipName("task-satisfier")}: BAD signature`);
    expect(r.stderr).toContain(`${zipName("task-satisfier")}: SHA-256 mismatch`);
    expect(r.stderr).not.toContain(zipName("state-manager"));
  });

  it("fails with the wrong public key", async () => {
    const r = await verify(release, other.publicKeyFile);
    expect(r.code).toBe(1);
    for (const f of [...FUNCTIONS.map(zipName), "SHA256SUMS"]) {
      expect(r.stderr).toContain(`${f}: ${f}.asc was not made by the given key (${other.fingerprint})`);
    }
  });

  it("fails when the signer is in the key file but is not the pinned fingerprint", async () => {
    const both = join(await copyOfRelease(), "both.asc");
    await writeFile(
      both,
      Buffer.concat([await readFile(key.publicKeyFile), await readFile(other.publicKeyFile)]),
    );
    const r = await verify(release, both, ["--fingerprint", other.fingerprint]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`was signed by ${key.fingerprint}, not by ${other.fingerprint}`);
  });

  it("fails when a signature is missing, naming the file", async () => {
    const dir = await copyOfRelease();
    await unlink(join(dir, `${zipName("state-manager")}.asc`));
    const r = await verify(dir, key.publicKeyFile);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${zipName("state-manager")}: signature ${zipName("state-manager")}.asc is missing`,
    );
  });

  it("fails when a tampered source map no longer matches SHA256SUMS", async () => {
    const dir = await copyOfRelease();
    const map = join(dir, `state-manager-${TEST_VERSION}.js.map`);
    await writeFile(map, `${await readFile(map, "utf8")} `);
    const r = await verify(dir, key.publicKeyFile);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`state-manager-${TEST_VERSION}.js.map: SHA-256 mismatch`);
  });

  it("fails when an unsigned, unlisted zip is slipped into the folder", async () => {
    const dir = await copyOfRelease();
    await cp(join(dir, zipName("state-manager")), join(dir, "extra.zip"));
    const r = await verify(dir, key.publicKeyFile);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("extra.zip: signature extra.zip.asc is missing");
    expect(r.stderr).toContain("extra.zip: not listed in SHA256SUMS");
  });

  it("refuses to sign with a key the keyring does not hold", async () => {
    const dir = await copyOfRelease();
    const r = await script("sign-release.mjs", ["--key", other.fingerprint, "--dir", dir], key.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`could not sign ${zipName("state-manager")} with key ${other.fingerprint}`);
  });
});
