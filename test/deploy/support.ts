// Shared pieces of the deployment tests: a small but well-formed release (real zip format, real
// SHA256SUMS), and synthesis of a StackseamStack with cdk-nag's checks as `cdk synth` runs them.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, CfnWaitConditionHandle, Stack, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import type { StackseamProps } from "../../deploy/src/props.js";
import { loadRelease, type VerifiedRelease } from "../../deploy/src/release.js";
import { StackseamStack } from "../../deploy/src/stack.js";

// The release's own zip writer and checksum (scripts/build-release.mjs has no type declarations).
const { sha256, zipFiles } = (await import(
  new URL("../../scripts/build-release.mjs", import.meta.url).href
)) as {
  sha256(data: Buffer): string;
  zipFiles(files: Array<{ name: string; data: Buffer }>): Buffer;
};

/** deploy/cdk.json: the tests synthesize with the same feature flags as `cdk synth`. */
const CDK_JSON = JSON.parse(readFileSync(new URL("../../deploy/cdk.json", import.meta.url), "utf8")) as {
  context: Record<string, unknown>;
};

export const FAKE_VERSION = "9.9.9-fake";
export const ENV = { account: "123456789012", region: "eu-west-1" } as const;

/**
 * A release folder whose zips hold a two-line index.mjs: enough for synthesis (which never runs the
 * code) and for export detection, built with the release's own zip writer and checksum function.
 */
export async function fakeReleaseDir(opts: { tick: boolean }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "stackseam-fake-release-"));
  const sums: string[] = [];
  for (const fn of ["state-manager", "task-satisfier"]) {
    const names = fn === "state-manager" && opts.tick ? ["handler", "tick"] : ["handler"];
    const code = `const a=async()=>({batchItemFailures:[]}),b=async()=>({});export{${names.map((n, i) => `${i === 0 ? "a" : "b"} as ${n}`).join(",")}};\n`;
    const zip = zipFiles([{ name: "index.mjs", data: Buffer.from(code) }]);
    const file = `${fn}-${FAKE_VERSION}.zip`;
    await writeFile(join(dir, file), zip);
    sums.push(`${sha256(zip)}  ${file}\n`);
  }
  await writeFile(join(dir, "SHA256SUMS"), sums.join(""));
  return dir;
}

/** Loads (and so verifies) a fake release. */
export async function fakeRelease(opts: { tick: boolean }): Promise<VerifiedRelease> {
  return loadRelease({ dir: await fakeReleaseDir(opts), version: FAKE_VERSION });
}

/**
 * Context that answers `Vpc.fromLookup(vpcId)` the way `cdk deploy` caches a real lookup in
 * cdk.context.json: a VPC with two private subnets (ids, AZs and route tables), no AWS call.
 */
export function vpcLookupContext(vpcId: string): Record<string, unknown> {
  const app = new App();
  const stack = new Stack(app, "Probe", { env: ENV });
  new CfnWaitConditionHandle(stack, "Nothing");
  ec2.Vpc.fromLookup(stack, "Vpc", { vpcId });
  const key = app.synth().manifest.missing?.[0]?.key;
  if (key === undefined) throw new Error("the VPC lookup asked for no context");
  const subnet = (n: string, az: string) => ({
    subnetId: `subnet-0${n.repeat(16)}`,
    cidr: `10.0.${n === "a" ? 0 : 64}.0/18`,
    availabilityZone: az,
    routeTableId: `rtb-0${n.repeat(16)}`,
  });
  return {
    [key]: {
      vpcId,
      vpcCidrBlock: "10.0.0.0/16",
      ownerAccountId: ENV.account,
      availabilityZones: [],
      subnetGroups: [
        { name: "Private", type: "Private", subnets: [subnet("a", "eu-west-1a"), subnet("b", "eu-west-1b")] },
      ],
    },
  };
}

export interface Synthesized {
  stack: StackseamStack;
  template: Template;
  /** cdk-nag violations that were not acknowledged: `<rule>: <path>`. */
  violations: string[];
  /** Every acknowledgement in the stack: rule id, reason and construct path. */
  acknowledgements: Array<{ id: string; reason: string; path: string }>;
}

/** Builds the stack in a fresh app with the AWS Solutions checks and synthesizes it. */
export function synth(
  release: VerifiedRelease,
  props: Omit<StackseamProps, "release">,
  context: Record<string, unknown> = {},
): Synthesized {
  const app = new App({
    context: { ...CDK_JSON.context, ...context },
    outdir: join(tmpdir(), `stackseam-cdk-out-${process.pid}-${Date.now()}-${Math.random()}`),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: false }));
  const stack = new StackseamStack(app, "Stackseam", { ...props, release, env: ENV });
  let violations: string[] = [];
  try {
    app.synth();
  } catch (err) {
    const report = join(app.outdir, "validation-report.json");
    if (!existsSync(report)) throw err;
    violations = readViolations(readFileSync(report, "utf8"));
    if (violations.length === 0) throw err;
  }
  const template = Template.fromStack(stack);
  rmSync(app.outdir, { recursive: true, force: true });
  return { stack, template, violations, acknowledgements: acknowledgementsOf(stack) };
}

function readViolations(text: string): string[] {
  const report = JSON.parse(text) as {
    pluginReports?: Array<{
      violations?: Array<{
        ruleName: string;
        violatingResources?: Array<{
          resourceLogicalId?: string;
          locations?: string[];
          templatePath?: string;
        }>;
      }>;
    }>;
  };
  const out: string[] = [];
  for (const plugin of report.pluginReports ?? []) {
    for (const v of plugin.violations ?? []) {
      for (const r of v.violatingResources ?? [{}]) out.push(`${v.ruleName}: ${r.resourceLogicalId ?? "?"}`);
    }
  }
  return out.sort();
}

function acknowledgementsOf(root: IConstruct): Synthesized["acknowledgements"] {
  const out: Synthesized["acknowledgements"] = [];
  for (const c of root.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      // Recorded as { "<rule id>": "<reason>" }.
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>))
        out.push({ id, reason, path: c.node.path });
    }
  }
  return out;
}
