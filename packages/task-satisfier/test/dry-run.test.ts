// `stackseam task run --dry-run` (docs/task-satisfier.md): what the Task Satisfier would run for a
// message, without running it; what it can tell beforehand it refuses the same way a real run would.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { BACKEND_OVERRIDE_FILE, createTaskSatisfier, localLambdaInvoker } from "@stackseam/task-satisfier";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FUNCTIONS_DIR, silentLogger, terraformTask } from "./support.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-dry-run-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const stateBucket = { bucket: "acme-tf-state", region: "eu-west-1" };
const satisfier = (backend = {}) =>
  createTaskSatisfier({
    s3: new S3Client({ region: "us-east-1" }),
    invoker: localLambdaInvoker(FUNCTIONS_DIR),
    terraformBin: "tofu",
    logger: silentLogger(),
    backend,
  });
const s3Source = { type: "s3", bucket: "acme-scripts", key: "infra/" };

describe("a dry run of a terraform task", () => {
  it("of an S3 source assumes a declared s3 backend and says what happens if there is none", () => {
    const plan = satisfier({ stateBucket }).plan(
      terraformTask({ config: { action: "apply", source: s3Source } }),
    );
    expect(plan).toMatchObject({
      ok: true,
      plan: {
        executor: "terraform",
        source: "s3://acme-scripts/infra/",
        backend: {
          key: "qa-env/feature-123/infra",
          ifNoBackend: {
            writes: BACKEND_OVERRIDE_FILE,
            backendConfig: [
              ["bucket", "acme-tf-state"],
              ["key", "qa-env/feature-123/infra"],
              ["region", "eu-west-1"],
              ["use_lockfile", "true"],
            ],
          },
        },
      },
    });
    if (!plan.ok) return;
    // apply: init, apply, then output -json; every command runs the configured binary.
    expect((plan.plan.commands as string[][]).map((c) => c.slice(0, 2))).toEqual([
      ["tofu", "init"],
      ["tofu", "apply"],
      ["tofu", "output"],
    ]);
  });

  it("without a state bucket, says a module without a backend would be refused", () => {
    const plan = satisfier().plan(terraformTask({ config: { action: "destroy", source: s3Source } }));
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.plan.backend).toMatchObject({
      ifNoBackend: expect.stringMatching(/^refused before terraform init: the module declares no backend/),
    });
    // destroy reads no outputs.
    expect((plan.plan.commands as string[][]).map((c) => c[1])).toEqual(["init", "destroy"]);
  });

  it("of a local source reads its backend, from a single .tf file too", async () => {
    const file = join(dir, "main.tf");
    await writeFile(file, 'terraform {\n  backend "s3" {}\n}\n');
    const plan = satisfier().plan(
      terraformTask({ config: { action: "apply", source: { type: "local", location: file } } }),
    );
    expect(plan).toMatchObject({
      ok: true,
      plan: { source: `local:${file}`, backend: { mode: "declared", type: "s3" } },
    });
  });

  it("refuses a module whose backend cannot be read, with the file and line", async () => {
    await writeFile(join(dir, "main.tf"), 'terraform {\n  backend "s3" {\n');
    const plan = satisfier().plan(
      terraformTask({ config: { action: "apply", source: { type: "local", location: dir } } }),
    );
    expect(plan).toMatchObject({ ok: false, description: expect.stringMatching(/main\.tf:\d+/) });
  });

  it("refuses a local source that is not there, as the run would, without the S3 source's note", () => {
    const missing = join(dir, "no-such-module");
    const plan = satisfier({ stateBucket }).plan(
      terraformTask({ config: { action: "apply", source: { type: "local", location: missing } } }),
    );
    expect(plan).toEqual({
      ok: false,
      task: expect.anything(),
      description: `local Terraform source ${missing} cannot be read (ENOENT)`,
    });
  });

  it("refuses an invalid config, and an executor it does not know", () => {
    expect(satisfier().plan(terraformTask({ config: { action: "plan", source: s3Source } }))).toMatchObject({
      ok: false,
      description: 'invalid terraform config: config.action must be "apply" or "destroy" (got "plan")',
      task: { stackId: "feature-123", task: "infra", token: "tok-1" },
    });
    expect(satisfier().plan(terraformTask({ executor: "pulumi" }))).toMatchObject({
      ok: false,
      description: expect.stringMatching(/^unknown executor "pulumi": known executors are .*terraform/),
    });
  });
});
