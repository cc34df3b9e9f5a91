// IAM for the functions comes from iam-policies/*.json — the same templates `npm run
// render-iam-policies` fills for a manual deployment — rendered here with the stack's own values.
// No CDK grant method is used for the functions' roles: what a role may do is what the templates say.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as iam from "aws-cdk-lib/aws-iam";
import { DeployConfigError } from "./errors.js";
import { type PolicyJson, policyDir, scripts } from "./repo.js";

/** A policy template has not landed yet when it is only in iam-policies/pending/. */
export function policyAvailable(name: string): boolean {
  return existsSync(join(policyDir(), `${name}.json`));
}

/** One template filled with values (CDK tokens are fine: they are strings until deploy time). */
export function renderTemplate(name: string, values: Readonly<Record<string, string>>): PolicyJson {
  const path = join(policyDir(), `${name}.json`);
  if (!existsSync(path)) {
    const pending = existsSync(join(policyDir(), "pending", `${name}.json`));
    throw new DeployConfigError([
      pending
        ? `${name}: this release's code does not make these calls yet (iam-policies/pending/${name}.json); remove the parameter that needs it`
        : `${name}: no such policy template in iam-policies/`,
    ]);
  }
  const text = readFileSync(path, "utf8");
  const missing = scripts.render.placeholdersIn(text).filter((p) => values[p] === undefined);
  if (missing.length > 0) throw new Error(`${name}.json: no value for ${missing.join(", ")}`);
  return scripts.render.renderPolicy(JSON.parse(text), { ...values });
}

/** Inline policies for one role, keyed by template name (the policy name in IAM). */
export function inlinePolicies(
  names: readonly string[],
  values: Readonly<Record<string, string>>,
): Record<string, iam.PolicyDocument> {
  return Object.fromEntries(names.map((n) => [n, iam.PolicyDocument.fromJson(renderTemplate(n, values))]));
}
