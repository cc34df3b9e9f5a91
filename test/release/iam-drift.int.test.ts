// The policies in iam-policies/ grant exactly what the release bundles can call, plus what AWS
// calls with the function's role on its behalf. Derived from the bundles esbuild builds for the
// release (the same build as `npm run build-release`), so new SDK calls are seen the day they land.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { root } from "./release-helpers.js";
import { actionsOf, bundledCommands, type Metafile } from "./sdk-actions.js";

// The release build itself (scripts/build-release.mjs has no type declarations).
const { bundle } = (await import(new URL("../../scripts/build-release.mjs", import.meta.url).href)) as {
  bundle(name: string): Promise<{ metafile: Metafile }>;
};

const policyDir = join(root, "iam-policies");
const pendingDir = join(policyDir, "pending");

const LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"];
// AWS Lambda: "Lambda execution role permissions" for an Amazon SQS event source.
const EVENT_SOURCE_MAPPING = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"];
// AWS Lambda: the execution role of a function attached to a VPC (AWSLambdaVPCAccessExecutionRole).
const VPC = [
  "ec2:CreateNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeSubnets",
  "ec2:DeleteNetworkInterface",
  "ec2:AssignPrivateIpAddresses",
  "ec2:UnassignPrivateIpAddresses",
];
// Terraform's S3 backend documentation: state (List/Get/Put), lockfiles (Get/Put/Delete), and
// DynamoDB locking for modules that still use `dynamodb_table`. Terraform runs as a child process
// with the function's credentials, so its calls are not in the bundle.
const TERRAFORM_BACKEND = [
  "s3:ListBucket",
  "s3:GetObject",
  "s3:PutObject",
  "s3:DeleteObject",
  "dynamodb:DescribeTable",
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:DeleteItem",
];

/** Actions a function's role needs that its code does not call, and who calls them. */
const NOT_FROM_CODE: Record<string, readonly string[]> = {
  "state-manager": [...LOGS, ...EVENT_SOURCE_MAPPING, ...VPC],
  "task-satisfier": [...LOGS, ...EVENT_SOURCE_MAPPING, ...VPC, ...TERRAFORM_BACKEND],
};

interface Policy {
  Statement: Array<{ Action: string | string[] }>;
}

/** Which policy files attach to which function's role (by file name; lambda-vpc to any in a VPC). */
function policiesOf(fn: string, dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .filter((f) => f.startsWith(`${fn}.`) || f.startsWith(`${fn}-`) || f === "lambda-vpc.json")
    .sort();
}

function actionsIn(dir: string, files: readonly string[]): Map<string, string[]> {
  const byAction = new Map<string, string[]>();
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(dir, f), "utf8")) as Policy;
    for (const st of doc.Statement) {
      for (const a of Array.isArray(st.Action) ? st.Action : [st.Action]) {
        byAction.set(a, [...(byAction.get(a) ?? []), f]);
      }
    }
  }
  return byAction;
}

describe("IAM drift: policies against the SDK calls in the release bundles", () => {
  const called: Record<string, string[]> = {};
  const ignored: Record<string, string[]> = {};

  beforeAll(async () => {
    for (const fn of ["state-manager", "task-satisfier"]) {
      const { metafile } = await bundle(fn);
      const derived = actionsOf(bundledCommands(metafile, (path) => readFileSync(join(root, path), "utf8")));
      called[fn] = derived.actions;
      ignored[fn] = derived.ignored;
    }
  });

  it("finds the calls the documentation says each function makes", () => {
    // docs/state-manager.md: specs from S3, the database secret, task messages to SQS.
    expect(called["state-manager"]).toEqual(
      expect.arrayContaining([
        "s3:ListBucket",
        "s3:GetObject",
        "secretsmanager:GetSecretValue",
        "sqs:SendMessage",
      ]),
    );
    // docs/task-satisfier.md: reports to SQS, S3 sources, Lambda invoke.
    expect(called["task-satisfier"]).toEqual(
      expect.arrayContaining(["sqs:SendMessage", "s3:ListBucket", "s3:GetObject", "lambda:InvokeFunction"]),
    );
    // Nothing calls ChangeMessageVisibility (the reason it is no longer granted).
    for (const fn of Object.keys(called)) expect(called[fn]).not.toContain("sqs:ChangeMessageVisibility");
  });

  for (const fn of ["state-manager", "task-satisfier"]) {
    it(`${fn}: every call the bundle can make is granted`, () => {
      const granted = actionsIn(policyDir, policiesOf(fn, policyDir));
      const pending = actionsIn(pendingDir, policiesOf(fn, pendingDir));
      const missing = (called[fn] ?? []).filter((a) => !granted.has(a));
      const advice = missing.map((a) =>
        pending.has(a)
          ? `${a}: the code calls it now; move iam-policies/pending/${pending.get(a)?.join(", ")} up to iam-policies/ and wire its parameter in deploy/src/stack.ts`
          : `${a}: granted by no iam-policies/${fn}*.json; add a statement scoped to the resources it is called on`,
      );
      expect(advice, `${fn} calls actions its role is not granted`).toEqual([]);
    });

    it(`${fn}: nothing is granted that neither the code nor AWS on its behalf calls`, () => {
      const granted = actionsIn(policyDir, policiesOf(fn, policyDir));
      const extra = [...granted.keys()]
        .filter((a) => !(called[fn] ?? []).includes(a) && !(NOT_FROM_CODE[fn] ?? []).includes(a))
        .map((a) => `${a} (in ${granted.get(a)?.join(", ")})`);
      expect(extra, `${fn}'s policies grant actions nothing calls`).toEqual([]);
    });
  }

  it("every pending policy is for a call the code does not make yet", () => {
    for (const fn of ["state-manager", "task-satisfier"]) {
      const pending = actionsIn(pendingDir, policiesOf(fn, pendingDir));
      const granted = actionsIn(policyDir, policiesOf(fn, policyDir));
      const landed = [...pending.keys()].filter((a) => (called[fn] ?? []).includes(a) && !granted.has(a));
      expect(landed, `${fn}: pending policies whose calls have landed (promote them)`).toEqual([]);
    }
  });
});
