// The app deploys only release zips that match SHA256SUMS (and, given a key, their signatures): the
// real zips from scripts/build-release.mjs, signed with a throwaway key as the release tests do.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReleaseVerificationError } from "../../deploy/src/errors.js";
import { bundleExports, loadRelease } from "../../deploy/src/release.js";
import { buildInto, createTestKey, script, TEST_VERSION, type TestKey } from "../release/release-helpers.js";

const zip = (fn: string) => `${fn}-${TEST_VERSION}.zip`;

function problems(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ReleaseVerificationError) return err.problems;
    throw err;
  }
  return [];
}

describe("release verification before deploy", () => {
  let release: string;
  let key: TestKey;
  let other: TestKey;
  const scratch: string[] = [];
  const copy = async () => {
    const dir = await mkdtemp(join(tmpdir(), "stackseam-deploy-release-"));
    scratch.push(dir);
    await cp(release, dir, { recursive: true });
    return dir;
  };

  beforeAll(async () => {
    [release, key, other] = await Promise.all([
      buildInto("stackseam-deploy-release-"),
      createTestKey("Stackseam Deploy Test"),
      createTestKey("Not The Signer"),
    ]);
    const signed = await script("sign-release.mjs", ["--key", key.fingerprint, "--dir", release], key.env);
    if (signed.code !== 0) throw new Error(`sign-release failed:\n${signed.stderr}`);
  });
  afterAll(async () => {
    await Promise.all([
      key?.stop(),
      other?.stop(),
      ...[release, ...scratch].map((d) => d && rm(d, { recursive: true, force: true })),
    ]);
  });

  it("accepts the real release and reads each zip's exported entry points", () => {
    const r = loadRelease({ dir: release, version: TEST_VERSION });
    expect(r.signed).toBe(false);
    expect(r.zips["state-manager"].exports).toContain("handler");
    expect(r.zips["task-satisfier"].exports).toContain("handler");
    expect(r.zips["state-manager"].path).toBe(join(release, zip("state-manager")));
  });

  it("checks signatures against a pinned key when one is given", () => {
    const r = loadRelease({
      dir: release,
      version: TEST_VERSION,
      publicKeyFile: key.publicKeyFile,
      fingerprint: key.fingerprint,
    });
    expect(r.signed).toBe(true);
    expect(
      problems(() =>
        loadRelease({ dir: release, version: TEST_VERSION, publicKeyFile: other.publicKeyFile }),
      ),
    ).toEqual(
      expect.arrayContaining([
        `${zip("state-manager")}: ${zip("state-manager")}.asc was not made by the given key (${other.fingerprint})`,
      ]),
    );
  });

  it("refuses a zip with one flipped byte, naming it", async () => {
    const dir = await copy();
    const path = join(dir, zip("task-satisfier"));
    const bytes = await readFile(path);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    expect(problems(() => loadRelease({ dir, version: TEST_VERSION }))).toEqual([
      expect.stringMatching(new RegExp(`^${zip("task-satisfier").replaceAll(".", "\\.")}: SHA-256 mismatch`)),
    ]);
  });

  it("refuses a release without SHA256SUMS, or without the version asked for", async () => {
    const dir = await copy();
    expect(problems(() => loadRelease({ dir, version: "1.2.3" }))).toEqual([
      `state-manager-1.2.3.zip: missing in ${dir} (version 1.2.3)`,
      `task-satisfier-1.2.3.zip: missing in ${dir} (version 1.2.3)`,
    ]);
    await rm(join(dir, "SHA256SUMS"));
    expect(problems(() => loadRelease({ dir, version: TEST_VERSION }))[0]).toMatch(/^SHA256SUMS: missing/);
  });

  it("reads the export clause esbuild writes", () => {
    expect(bundleExports("var a=1;export{b as handler,c as tick};\n/*! legal */")).toEqual([
      "handler",
      "tick",
    ]);
    expect(bundleExports("export{handler};")).toEqual(["handler"]);
    expect(bundleExports("no exports")).toEqual([]);
  });
});
