// Where the repository's release scripts and IAM templates are, and typed access to the scripts the
// app reuses (the app runs from a checkout: deploy/src under vitest, deploy/dist under `cdk`).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The checkout's root: the nearest folder above this file holding scripts/build-release.mjs. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "scripts/build-release.mjs")) && existsSync(join(dir, "iam-policies")))
      return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new Error("cannot find the Stackseam checkout (scripts/build-release.mjs) above deploy/");
    dir = up;
  }
}

/** The policy templates folder. */
export const policyDir = (): string => join(repoRoot(), "iam-policies");

/** What the app uses of scripts/build-release.mjs. */
export interface BuildReleaseModule {
  FUNCTIONS: Readonly<Record<string, string>>;
  sha256(data: Buffer): string;
}

/** What the app uses of scripts/verify-release.mjs. */
export interface VerifyReleaseModule {
  verifyRelease(opts: { keyFile: string; dir: string; fingerprint?: string }): string[];
  checkSums(dir: string): { problems: string[]; listed: Set<string> };
}

/** What the app uses of scripts/render-iam-policies.mjs. */
export interface RenderPoliciesModule {
  LIST_PLACEHOLDERS: ReadonlySet<string>;
  placeholdersIn(text: string): string[];
  /** A problem sentence when a literal value is malformed for its placeholder, else null. */
  checkValue(name: string, value: string): string | null;
  renderPolicy(doc: unknown, values: Record<string, string>): PolicyJson;
}

/** A policy document as IAM reads it. */
export interface PolicyJson {
  Version: string;
  Statement: Array<{
    Sid?: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, unknown>;
  }>;
}

async function script<T>(name: string): Promise<T> {
  return (await import(pathToFileURL(join(repoRoot(), "scripts", name)).href)) as T;
}

/** The release and policy scripts, loaded once: the same code as `npm run build-release` & co. */
export const scripts = {
  build: await script<BuildReleaseModule>("build-release.mjs"),
  verify: await script<VerifyReleaseModule>("verify-release.mjs"),
  render: await script<RenderPoliciesModule>("render-iam-policies.mjs"),
};
