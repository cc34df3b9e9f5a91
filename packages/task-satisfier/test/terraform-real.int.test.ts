import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { TaskMessage } from "@stackseam/core";
import {
  createTaskSatisfier,
  localLambdaInvoker,
  type TaskSatisfierOptions,
} from "@stackseam/task-satisfier";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, TEST_REGION, type TestAws } from "../../../test/support/aws.js";
import { FUNCTIONS_DIR, farDeadline, silentLogger, terraformTask } from "./support.js";

// Issue 14: the real `terraform` (1.11.4 in CI; only built-in providers, there is no network)
// against an S3 backend on fauxqs, through the Task Satisfier exactly as Lambda and dev run it.

const EXAMPLE = new URL("../../../examples/terraform", import.meta.url).pathname;
const STATE_BUCKET = "stackseam-terraform-state";

function terraformVersion(): string | null {
  try {
    return execFileSync("terraform", ["version", "-json"], {
      encoding: "utf8",
      env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null" },
    });
  } catch {
    return null;
  }
}
const version = terraformVersion();
if (!version) console.warn("skipping the real-Terraform tests: no `terraform` on PATH");

let aws: TestAws;
let dir: string;

const awsEnv = () => ({
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_REGION: TEST_REGION,
  AWS_ENDPOINT_URL_S3: aws.endpoint,
});

function satisfier(opts: Partial<TaskSatisfierOptions> = {}) {
  return createTaskSatisfier({
    s3: aws.s3,
    invoker: localLambdaInvoker(FUNCTIONS_DIR),
    workDir: dir,
    deadlineMarginMs: 5000,
    logger: silentLogger(),
    terraformEnv: awsEnv(),
    backend: {
      stateBucket: { bucket: STATE_BUCKET, region: TEST_REGION },
      s3Endpoint: { url: aws.endpoint },
    },
    pluginCacheDir: join(dir, "plugin-cache"),
    ...opts,
  });
}

const task = (config: Record<string, unknown>, overrides: Partial<TaskMessage> = {}) =>
  terraformTask({
    machine: "qa-env-terraform",
    config: {
      source: { type: "local", location: EXAMPLE },
      metadataVariables: ["image_tag", "fail_apply"],
      ...config,
    },
    metadata: { image_tag: "e724e90" },
    ...overrides,
  });

async function stateOf(
  key: string,
  bucket = STATE_BUCKET,
): Promise<{ resources: { type: string; name: string }[] } | null> {
  try {
    const res = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await res.Body?.transformToString()) ?? "") as {
      resources: { type: string; name: string }[];
    };
  } catch {
    return null;
  }
}

const keyOf = (stackId: string, location = EXAMPLE) => `qa-env-terraform/${stackId}/${location.slice(1)}`;

describe.skipIf(!version)("real Terraform through the Task Satisfier (issue 14)", () => {
  beforeAll(async () => {
    aws = await startTestAws({ bucket: STATE_BUCKET });
    await aws.s3.send(new CreateBucketCommand({ Bucket: "declared-state" }));
  });
  afterAll(async () => {
    await aws?.stop();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "stackseam-tf-real-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("applies, reports the outputs (sensitive by name only), and destroys what it applied in a later run", async () => {
    const applied = await satisfier().runTask(
      task({ action: "apply", variables: { replicas: 1 } }, { stackId: "real-1" }),
      farDeadline,
    );
    expect(applied.event, applied.description).toBe("TASK_COMPLETED");
    const outputs = applied.outputs ?? {};
    expect(outputs).toMatchObject({
      url: { value: "https://real-1.preview.example.test", sensitive: false },
      image: { value: "registry.example.test/api:e724e90", sensitive: false },
      replicas: { value: 1, sensitive: false },
      database_password: { sensitive: true },
    });
    expect(outputs.id).toMatchObject({ sensitive: false, value: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(outputs.database_password).toEqual({ sensitive: true });

    // The state lives in the S3 backend Stackseam supplied, under the stack's key.
    const state = await stateOf(keyOf("real-1"));
    expect(state?.resources.map((r) => `${r.type}.${r.name}`).sort()).toEqual([
      "terraform_data.app",
      "terraform_data.database",
    ]);

    // DESTROY runs later, in another temp dir (another container): it finds the state and empties it.
    const destroyed = await satisfier().runTask(
      task({ action: "destroy" }, { stackId: "real-1", token: "tok-2" }),
      farDeadline,
    );
    expect(destroyed).toEqual({
      stackId: "real-1",
      event: "TASK_COMPLETED",
      task: "infra",
      token: "tok-2",
    });
    expect((await stateOf(keyOf("real-1")))?.resources).toEqual([]);
  });

  it("reports a failing precondition with Terraform's Error: text", async () => {
    const report = await satisfier().runTask(
      task({ action: "apply" }, { stackId: "real-2", metadata: { image_tag: "x", fail_apply: true } }),
      farDeadline,
    );
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toMatch(/^terraform apply failed \(exit code 1\)\n--- last output ---\n/);
    expect(report.description).toContain("Error: Resource precondition failed");
    expect(report.description).toContain(
      "fail_apply is set for stack real-2: the preview environment refuses to start.",
    );
  });

  it("serialises two concurrent applies on one stack with the S3 lock file", async () => {
    const module = join(dir, "slow");
    await mkdir(module);
    const log = join(dir, "order.log");
    await writeFile(
      join(module, "main.tf"),
      `variable "stack_id" { type = string }
variable "run" { type = string }
resource "terraform_data" "step" {
  input            = var.run
  triggers_replace = [var.run]
  provisioner "local-exec" {
    command = "echo start-\${var.run} >> ${log} && sleep 1 && echo end-\${var.run} >> ${log}"
  }
}
`,
    );
    const run = (name: string) =>
      satisfier().runTask(
        terraformTask({
          stackId: "real-lock",
          token: name,
          config: { action: "apply", source: { type: "local", location: module }, variables: { run: name } },
          metadata: {},
        }),
        farDeadline,
      );
    const [a, b] = await Promise.all([run("a"), run("b")]);
    expect([a.event, b.event], `${a.description}\n${b.description}`).toEqual([
      "TASK_COMPLETED",
      "TASK_COMPLETED",
    ]);
    const order = (await readFile(log, "utf8")).trim().split("\n");
    // One apply ran whole, then the other: never start-a, start-b.
    expect([
      ["start-a", "end-a", "start-b", "end-b"],
      ["start-b", "end-b", "start-a", "end-a"],
    ]).toContainEqual(order);
    const last = order[2]?.slice("start-".length);
    const state = (await stateOf(`qa-env/real-lock/${module.slice(1)}`)) as unknown as {
      resources: { instances: { attributes: { input: { value: string } } }[] }[];
    };
    expect(state.resources).toHaveLength(1);
    expect(state.resources[0]?.instances[0]?.attributes.input.value).toBe(last);
  });

  it("uses the backend a module declares (only the key is Stackseam's), not the state bucket", async () => {
    const module = join(dir, "declared");
    await cp(EXAMPLE, module, { recursive: true });
    await writeFile(
      join(module, "backend.tf"),
      'terraform {\n  backend "s3" {\n    bucket       = "declared-state"\n    region       = "us-east-1"\n    use_lockfile = true\n  }\n}\n',
    );
    const report = await satisfier().runTask(
      task({ action: "apply", source: { type: "local", location: module } }, { stackId: "real-3" }),
      farDeadline,
    );
    expect(report.event, report.description).toBe("TASK_COMPLETED");
    expect((await stateOf(keyOf("real-3", module), "declared-state"))?.resources).toHaveLength(2);
    expect(await stateOf(keyOf("real-3", module))).toBeNull();
  });

  it("refuses a module with neither a backend nor a state bucket before init", async () => {
    const report = await satisfier({ backend: { s3Endpoint: { url: aws.endpoint } } }).runTask(
      task({ action: "apply" }, { stackId: "real-4" }),
      farDeadline,
    );
    expect(report.description).toMatch(/^refused before terraform init: the module declares no backend/);
    const listed = await aws.s3.send(
      new ListObjectsV2Command({ Bucket: STATE_BUCKET, Prefix: "qa-env-terraform/real-4/" }),
    );
    expect(listed.Contents ?? []).toEqual([]);
  });
});
