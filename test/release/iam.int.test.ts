import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const policyDir = join(root, "iam-policies");
const script = join(root, "scripts/render-iam-policies.mjs");

const ENI_ACTIONS = [
  "ec2:CreateNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeSubnets",
  "ec2:DeleteNetworkInterface",
  "ec2:AssignPrivateIpAddresses",
  "ec2:UnassignPrivateIpAddresses",
];
// What an SQS event source mapping needs from the function's role (AWS Lambda documentation).
const CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"];
const LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"];

/** The only actions each policy may grant. */
const ALLOWED: Record<string, string[]> = {
  "state-manager": [
    ...CONSUME,
    "sqs:SendMessage",
    "s3:ListBucket",
    "s3:GetObject",
    "secretsmanager:GetSecretValue",
    ...LOGS,
  ],
  "task-satisfier": [...CONSUME, "sqs:SendMessage", ...LOGS],
  "task-satisfier-terraform": ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
  "task-satisfier-terraform-sources": ["s3:ListBucket", "s3:GetObject"],
  "task-satisfier-terraform-dynamodb-lock": [
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
  ],
  "task-satisfier-lambda": ["lambda:InvokeFunction"],
  "task-satisfier-ecs": ["ecs:RunTask", "iam:PassRole", "s3:PutObject"],
  "state-manager-sns": ["sns:Publish"],
  "state-manager-eventbridge": ["events:PutEvents"],
  "state-manager-webhook-secrets": ["secretsmanager:GetSecretValue"],
  "lambda-vpc": ENI_ACTIONS,
};

const VALUES: Record<string, string> = {
  EVENT_QUEUE_ARN: "arn:aws:sqs:eu-west-1:123456789012:stackseam-events",
  TASK_QUEUE_ARN: "arn:aws:sqs:eu-west-1:123456789012:stackseam-tasks",
  SPEC_BUCKET: "acme-stackseam-specs",
  SPEC_PREFIX: "machines/",
  DB_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stackseam-db-AbCdEf",
  REGION: "eu-west-1",
  ACCOUNT_ID: "123456789012",
  STATE_MANAGER_FUNCTION_NAME: "stackseam-state-manager",
  TASK_SATISFIER_FUNCTION_NAME: "stackseam-task-satisfier",
  TF_SOURCE_BUCKET: "acme-terraform-sources",
  TF_SOURCE_PREFIX: "stacks/",
  TF_STATE_BUCKET: "acme-terraform-state",
  TF_STATE_PREFIX: "",
  TF_LOCK_TABLE: "terraform-locks",
  ECS_CLUSTER_ARN: "arn:aws:ecs:eu-west-1:123456789012:cluster/stackseam",
  ECS_TASK_DEFINITION_ARNS: "arn:aws:ecs:eu-west-1:123456789012:task-definition/stackseam-runner:*",
  ECS_PASS_ROLE_ARNS:
    "arn:aws:iam::123456789012:role/stackseam-runner-task,arn:aws:iam::123456789012:role/stackseam-runner-execution",
  RUNNER_MESSAGE_BUCKET: "acme-terraform-state",
  FUNCTION_ARNS:
    "arn:aws:lambda:eu-west-1:123456789012:function:seed-db,arn:aws:lambda:eu-west-1:123456789012:function:notify:live",
  NOTIFICATION_TOPIC_ARNS:
    "arn:aws:sns:eu-west-1:123456789012:stackseam-alerts,arn:aws:sns:eu-west-1:123456789012:team.fifo",
  EVENT_BUS_ARNS: "arn:aws:events:eu-west-1:123456789012:event-bus/default",
  WEBHOOK_SECRET_ARNS: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stackseam/hooks/ci-Q1w2E3",
};

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);
const args = (values: Record<string, string>) => Object.entries(values).flatMap(([k, v]) => [`--${k}`, v]);

/** Runs the render script with a clean environment (so no stray variable fills a placeholder). */
async function render(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [script, ...argv], { env: { PATH: process.env.PATH ?? "" } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("IAM policies", () => {
  let out: string;
  let names: string[];
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), "stackseam-iam-"));
    names = (await readdir(policyDir))
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.slice(0, -".json".length));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it("ships the required policies (and every policy has an allow-list here)", () => {
    expect(names).toEqual(
      expect.arrayContaining([
        "state-manager",
        "task-satisfier",
        "task-satisfier-terraform",
        "task-satisfier-lambda",
        "lambda-vpc",
      ]),
    );
    for (const n of names) expect(Object.keys(ALLOWED), `no allow-list for ${n}`).toContain(n);
  });

  it("templates are valid JSON and their placeholders are all known", async () => {
    for (const n of names) {
      const text = await readFile(join(policyDir, `${n}.json`), "utf8");
      const doc = JSON.parse(text) as { Version: string; Statement: Statement[] };
      expect(doc.Version).toBe("2012-10-17");
      expect(doc.Statement.length).toBeGreaterThan(0);
      const used = [...text.matchAll(/\$\{([A-Z][A-Z0-9_]*)\}/g)].map((m) => m[1]);
      for (const p of used) expect(Object.keys(VALUES), `${n}.json uses unknown ${p}`).toContain(p);
    }
  });

  it("renders every placeholder and keeps least privilege", async () => {
    const r = await render(["--out", out, ...args(VALUES)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const written = (await readdir(out)).sort();
    expect(written).toEqual(names.map((n) => `${n}.json`).sort());
    for (const n of names) {
      const text = await readFile(join(out, `${n}.json`), "utf8");
      expect(text, `${n}.json`).not.toMatch(/\$\{/);
      const doc = JSON.parse(text) as { Statement: Statement[] };
      for (const st of doc.Statement) {
        const where = `${n}.json ${st.Sid ?? "?"}`;
        expect(st.Effect, where).toBe("Allow");
        const actions = list(st.Action);
        for (const a of actions) {
          expect(a, where).not.toContain("*");
          expect(ALLOWED[n], `${where} grants ${a}`).toContain(a);
        }
        const resources = list(st.Resource);
        expect(resources.length, where).toBeGreaterThan(0);
        if (resources.includes("*")) {
          // AWS offers no resource-level scoping for ENI management: the one justified wildcard.
          expect(resources, where).toEqual(["*"]);
          for (const a of actions) expect(ENI_ACTIONS, `${where}: ${a} on Resource "*"`).toContain(a);
        }
        for (const res of resources) if (res !== "*") expect(res, where).toMatch(/^arn:aws:/);
      }
    }
  });

  it("never renders the pending templates (calls the code does not make yet)", async () => {
    const pending = (await readdir(join(policyDir, "pending"))).filter((f) => f.endsWith(".json"));
    for (const f of pending) expect(await readdir(out)).not.toContain(f);
  });

  it("scopes notifications to the listed topics, buses and webhook secrets", async () => {
    const resources = async (name: string) =>
      (
        JSON.parse(await readFile(join(out, `${name}.json`), "utf8")) as { Statement: Statement[] }
      ).Statement.map((st) => st.Resource);
    expect(await resources("state-manager-sns")).toEqual([VALUES.NOTIFICATION_TOPIC_ARNS?.split(",")]);
    expect(await resources("state-manager-eventbridge")).toEqual([VALUES.EVENT_BUS_ARNS]);
    expect(await resources("state-manager-webhook-secrets")).toEqual([VALUES.WEBHOOK_SECRET_ARNS]);
  });

  it("turns FUNCTION_ARNS into a list of ARNs, qualified ones as given", async () => {
    const doc = JSON.parse(await readFile(join(out, "task-satisfier-lambda.json"), "utf8")) as {
      Statement: Statement[];
    };
    expect(doc.Statement[0]?.Resource).toEqual(VALUES.FUNCTION_ARNS?.split(","));
  });

  it("scopes spec listing to the prefix and state objects to the state bucket", async () => {
    const sm = JSON.parse(await readFile(join(out, "state-manager.json"), "utf8")) as {
      Statement: Statement[];
    };
    const listing = sm.Statement.find((s) => list(s.Action).includes("s3:ListBucket"));
    expect(listing?.Resource).toBe("arn:aws:s3:::acme-stackseam-specs");
    expect(listing?.Condition).toEqual({ StringLike: { "s3:prefix": ["machines/*"] } });
    const reading = sm.Statement.find((s) => list(s.Action).includes("s3:GetObject"));
    expect(reading?.Resource).toBe("arn:aws:s3:::acme-stackseam-specs/machines/*");
  });

  it("fails naming every placeholder left without a value, and writes nothing", async () => {
    const partial = { ...VALUES };
    delete partial.DB_SECRET_ARN;
    delete partial.TF_LOCK_TABLE;
    const empty = await mkdtemp(join(tmpdir(), "stackseam-iam-fail-"));
    try {
      const r = await render(["--out", empty, ...args(partial)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("DB_SECRET_ARN has no value (used in state-manager.json)");
      expect(r.stderr).toContain(
        "TF_LOCK_TABLE has no value (used in task-satisfier-terraform-dynamodb-lock.json)",
      );
      expect(await readdir(empty)).toEqual([]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("only needs the placeholders of the selected policies, and reads the environment", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stackseam-iam-only-"));
    try {
      const r = await exec(process.execPath, [script, "--out", dir, "--only", "task-satisfier-lambda"], {
        env: {
          PATH: process.env.PATH ?? "",
          ECS_CLUSTER_ARN: "arn:aws:ecs:eu-west-1:123456789012:cluster/stackseam",
          ECS_TASK_DEFINITION_ARNS: "arn:aws:ecs:eu-west-1:123456789012:task-definition/stackseam-runner:*",
          ECS_PASS_ROLE_ARNS:
            "arn:aws:iam::123456789012:role/stackseam-runner-task,arn:aws:iam::123456789012:role/stackseam-runner-execution",
          RUNNER_MESSAGE_BUCKET: "acme-terraform-state",
          FUNCTION_ARNS: "arn:aws:lambda:eu-west-1:123456789012:function:one",
        },
      });
      expect(r.stdout).toContain("task-satisfier-lambda.json");
      expect(await readdir(dir)).toEqual(["task-satisfier-lambda.json"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects a FUNCTION_ARNS entry that is not a Lambda function ARN", async () => {
    const r = await render([
      "--out",
      out,
      ...args({ ...VALUES, FUNCTION_ARNS: "arn:aws:lambda:eu-west-1:123456789012:layer:terraform" }),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not a Lambda function ARN");
  });

  it("rejects a value that is not an ARN where an ARN is expected", async () => {
    const r = await render(["--out", out, ...args({ ...VALUES, EVENT_QUEUE_ARN: "stackseam-events" })]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("EVENT_QUEUE_ARN must be an ARN");
  });
});
