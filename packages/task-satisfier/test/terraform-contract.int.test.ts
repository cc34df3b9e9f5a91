import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TaskMessage } from "@stackseam/core";
import {
  BACKEND_OVERRIDE_FILE,
  createTaskSatisfier,
  localLambdaInvoker,
  type TaskSatisfierOptions,
} from "@stackseam/task-satisfier";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import {
  DECLARES_BACKEND,
  FAKE_TF,
  FUNCTIONS_DIR,
  farDeadline,
  silentLogger,
  terraformTask,
} from "./support.js";

interface Call {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  files: string[];
  pid: number;
}

let aws: TestAws;
let dir: string;
let scripts: string;
let workDir: string;
let recordFile: string;

beforeAll(async () => {
  aws = await startTestAws();
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-tf-contract-"));
  scripts = join(dir, "scripts");
  workDir = join(dir, "work");
  recordFile = join(dir, "calls.jsonl");
  await mkdir(scripts);
  await mkdir(workDir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function behaviour(b: Record<string, unknown>, into = scripts) {
  await writeFile(join(into, "fake-terraform.json"), JSON.stringify({ record: recordFile, ...b }));
}

async function calls(): Promise<Call[]> {
  if (!existsSync(recordFile)) return [];
  return (await readFile(recordFile, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Call);
}

function satisfier(opts: Partial<TaskSatisfierOptions> = {}) {
  return createTaskSatisfier({
    s3: aws.s3,
    invoker: localLambdaInvoker(FUNCTIONS_DIR),
    terraformBin: FAKE_TF,
    workDir,
    deadlineMarginMs: 1000,
    logger: silentLogger(),
    ...opts,
  });
}

const task = (config: Record<string, unknown> = {}, overrides: Partial<TaskMessage> = {}) =>
  terraformTask({
    config: { action: "apply", source: { type: "local", location: scripts }, ...config },
    ...overrides,
  });

const stateBucket = { bucket: "acme-tfstate", region: "eu-west-1" };

describe("where the state goes (issue 12 defect 5, issue 14 item 1)", () => {
  it("refuses a module without a backend before init when no state bucket is configured", async () => {
    await writeFile(join(scripts, "main.tf"), 'variable "stack_id" {}\n');
    await behaviour({});
    const report = await satisfier().runTask(task(), farDeadline);
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toBe(
      'refused before terraform init: the module declares no backend, so its state would live in the run\'s temp dir and be deleted with it (a later destroy would find nothing to destroy). Either declare one in the module (terraform { backend "s3" { bucket = "…", region = "…", use_lockfile = true } }; Stackseam sets its key to qa-env/feature-123/' +
        `${scripts.slice(1)}) or set TERRAFORM_STATE_BUCKET (and TERRAFORM_STATE_REGION) on the Task Satisfier so Stackseam supplies an S3 backend; nothing was run`,
    );
    expect(await calls()).toEqual([]);
    expect(await readdir(workDir)).toEqual([]);
  });

  it("supplies an S3 backend with the stack's key and a lock file when the deployment names a state bucket", async () => {
    await writeFile(join(scripts, "main.tf"), 'variable "stack_id" {}\n');
    await behaviour({});
    const report = await satisfier({ backend: { stateBucket } }).runTask(task(), farDeadline);
    expect(report.event).toBe("TASK_COMPLETED");
    const [init] = await calls();
    expect(init?.argv).toEqual([
      "init",
      "-input=false",
      "-no-color",
      "-backend-config=bucket=acme-tfstate",
      `-backend-config=key=qa-env/feature-123/${scripts.slice(1)}`,
      "-backend-config=region=eu-west-1",
      "-backend-config=use_lockfile=true",
    ]);
    expect(init?.files).toContain(BACKEND_OVERRIDE_FILE);
    const override = await readFile(join(init!.cwd, BACKEND_OVERRIDE_FILE), "utf8").catch(() => null);
    expect(override).toBeNull(); // the temp dir is gone; what Terraform read is checked in the real-Terraform tests
  });

  it("passes only the key to a module that declares its backend, even with a state bucket", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await behaviour({});
    await satisfier({ backend: { stateBucket } }).runTask(task(), farDeadline);
    const [init] = await calls();
    expect(init?.argv.slice(3)).toEqual([`-backend-config=key=qa-env/feature-123/${scripts.slice(1)}`]);
    expect(init?.files).not.toContain(BACKEND_OVERRIDE_FILE);
  });

  it("points an S3 backend at an S3-compatible endpoint (dev) whether declared or supplied, and no other backend", async () => {
    const endpoint = { url: "http://127.0.0.1:4566" };
    const devArgs = [
      '-backend-config=endpoints={s3="http://127.0.0.1:4566"}',
      "-backend-config=use_path_style=true",
      "-backend-config=skip_credentials_validation=true",
      "-backend-config=skip_requesting_account_id=true",
      "-backend-config=skip_metadata_api_check=true",
      "-backend-config=skip_region_validation=true",
    ];
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await behaviour({});
    await satisfier({ backend: { s3Endpoint: endpoint } }).runTask(task(), farDeadline);
    await writeFile(join(scripts, "main.tf"), 'variable "stack_id" {}\n');
    await satisfier({ backend: { s3Endpoint: endpoint, stateBucket } }).runTask(task(), farDeadline);
    await writeFile(join(scripts, "main.tf"), 'terraform {\n  backend "gcs" {}\n}\n');
    await satisfier({ backend: { s3Endpoint: endpoint } }).runTask(task(), farDeadline);
    const inits = (await calls()).filter((c) => c.argv[0] === "init");
    expect(inits[0]?.argv.slice(4)).toEqual(devArgs);
    expect(inits[1]?.argv.slice(7)).toEqual(devArgs);
    expect(inits[2]?.argv.slice(3)).toEqual([`-backend-config=key=qa-env/feature-123/${scripts.slice(1)}`]);
  });

  it("refuses a cloud block, and a file it cannot read, before init", async () => {
    await writeFile(join(scripts, "main.tf"), 'terraform {\n  cloud {\n    organization = "acme"\n  }\n}\n');
    await behaviour({});
    const cloud = await satisfier({ backend: { stateBucket } }).runTask(task(), farDeadline);
    expect(cloud.description).toMatch(
      /^refused before terraform init: main\.tf:2 declares a cloud block \(HCP Terraform\)/,
    );
    await writeFile(join(scripts, "main.tf"), 'locals {\n  a = "open\n}\n');
    const broken = await satisfier({ backend: { stateBucket } }).runTask(task(), farDeadline);
    expect(broken.description).toMatch(
      /^refused before terraform init: cannot tell which backend the module declares, because main\.tf:2: a quoted string is not closed/,
    );
    expect(await calls()).toEqual([]);
  });

  it("shows the backend in a dry run of a local source", () => {
    return (async () => {
      await writeFile(join(scripts, "main.tf"), 'variable "stack_id" {}\n');
      const refused = satisfier().plan(task());
      expect(refused).toMatchObject({ ok: false });
      const plan = satisfier({ backend: { stateBucket } }).plan(task());
      expect(plan).toMatchObject({
        ok: true,
        plan: { backend: { mode: "supplied", type: "s3", writes: BACKEND_OVERRIDE_FILE } },
      });
    })();
  });
});

describe("inputs, outputs and the message deadline (issue 14 item 4)", () => {
  it("reports the outputs of `terraform output -json`, sensitive ones by name only", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await behaviour({
      outputs: {
        url: { sensitive: false, type: "string", value: "https://feature-123.example.com" },
        ports: { sensitive: false, type: ["list", "number"], value: [80, 443] },
        password: { sensitive: true, type: "string", value: "hunter2" },
      },
    });
    const report = await satisfier().runTask(task(), farDeadline);
    expect(report).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "infra",
      token: "tok-1",
      outputs: {
        url: { value: "https://feature-123.example.com", sensitive: false },
        ports: { value: [80, 443], sensitive: false },
        password: { sensitive: true },
      },
    });
    expect(JSON.stringify(report)).not.toContain("hunter2");
  });

  it("never puts a sensitive value in the error description when reading the outputs fails", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await behaviour({ output: { exit: 1 }, outputs: { password: { sensitive: true, value: "hunter2" } } });
    const report = await satisfier().runTask(task(), farDeadline);
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toBe(
      "terraform output failed (exit code 1)\n--- last output ---\nFAKE-TF-START output\n",
    );
  });

  it("passes the message's inputs as -var, after the task's variables", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await behaviour({});
    await satisfier().runTask(
      task({ variables: { vpc_id: "static", size: 2 } }, { metadata: {}, inputs: { vpc_id: "vpc-9", n: 3 } }),
      farDeadline,
    );
    const [, apply] = await calls();
    expect(apply?.argv.slice(5)).toEqual([
      "-var",
      "stack_id=feature-123",
      "-var",
      "size=2",
      "-var",
      "vpc_id=vpc-9",
      "-var",
      "n=3",
    ]);
  });

  it("stops before the message's deadline when it comes before the Lambda's", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await behaviour({ apply: { sleepMs: 600_000 } });
    const deadline = new Date(Date.now() + 3_000).toISOString();
    const report = await satisfier().runTask(task({}, { deadline }), farDeadline);
    expect(report.description).toMatch(
      new RegExp(
        `^terraform apply timed out: SIGTERM sent \\d+\\.\\d s after it started \\(\\d\\.\\d s before the task's deadline \\(${deadline.replaceAll(".", "\\.")}\\)\\)`,
      ),
    );
  });

  it("does not start when the message's deadline has passed", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await behaviour({});
    const report = await satisfier().runTask(task({}, { deadline: "2020-01-01T00:00:00.000Z" }), farDeadline);
    expect(report.description).toMatch(
      /^not started: only 0\.0 s left before the task's deadline \(2020-01-01T00:00:00\.000Z\) and 1\.0 s are kept back \(TERRAFORM_DEADLINE_MARGIN_MS\); raise the task's timeout in the spec$/,
    );
    expect(await calls()).toEqual([]);
  });
});

describe("the message deadline when the run sends heartbeats", () => {
  it("does not stop at it: each heartbeat pushes the State Manager's deadline", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    const go = join(dir, "go");
    await behaviour({ apply: { waitFile: go } });
    const deadline = new Date(Date.now() + 2_500).toISOString();
    const running = satisfier().runTask(task({}, { deadline }), farDeadline, { heartbeats: true });
    // Let the apply outlive the message's deadline, then let it finish.
    while (Date.now() < Date.parse(deadline) + 1_000) await new Promise((r) => setTimeout(r, 100));
    await writeFile(go, "");
    expect((await running).event).toBe("TASK_COMPLETED");
  });

  it("still does not start a task whose deadline has passed", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await behaviour({});
    const report = await satisfier().runTask(
      task({}, { deadline: "2020-01-01T00:00:00.000Z" }),
      farDeadline,
      {
        heartbeats: true,
      },
    );
    expect(report.description).toBe(
      "not started: only 0.0 s left before the task's deadline (2020-01-01T00:00:00.000Z) and 1.0 s are kept back (TERRAFORM_DEADLINE_MARGIN_MS); raise the task's timeout in the spec",
    );
    expect(await calls()).toEqual([]);
  });
});

describe("local sources with symbolic links (issue 12 item 7)", () => {
  it("copies the contents of links that point inside the source, so the copy does not point back out", async () => {
    await mkdir(join(scripts, "real"));
    await writeFile(join(scripts, "real", "main.tf"), DECLARES_BACKEND);
    await writeFile(join(scripts, "real", "fake-terraform.json"), JSON.stringify({ record: recordFile }));
    const linked = join(dir, "linked");
    await mkdir(linked);
    // A folder of nothing but links, pointing inside the source itself.
    await symlink(join(scripts, "real"), join(scripts, "modules"));
    await symlink("real/main.tf", join(scripts, "main.tf"));
    await symlink("real/fake-terraform.json", join(scripts, "fake-terraform.json"));
    const report = await satisfier().runTask(task(), farDeadline);
    expect(report.event).toBe("TASK_COMPLETED");
    const [init] = await calls();
    expect(init?.files).toEqual([
      "fake-terraform.json",
      "main.tf",
      "modules/fake-terraform.json",
      "modules/main.tf",
      "real/fake-terraform.json",
      "real/main.tf",
    ]);
  });

  it("accepts a folder of only symlinks when they point inside it", async () => {
    const only = join(dir, "only-links");
    await mkdir(join(only, ".store"), { recursive: true });
    await writeFile(join(only, ".store", "main.tf"), DECLARES_BACKEND);
    await writeFile(join(only, ".store", "fake-terraform.json"), JSON.stringify({ record: recordFile }));
    await symlink(".store/main.tf", join(only, "main.tf"));
    await symlink(".store/fake-terraform.json", join(only, "fake-terraform.json"));
    const report = await satisfier().runTask(
      task({ source: { type: "local", location: only } }),
      farDeadline,
    );
    expect(report.event).toBe("TASK_COMPLETED");
  });

  it("refuses a link that leaves the source, and one that dangles, running nothing", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await writeFile(join(dir, "secret.tf"), "# outside\n");
    await symlink(join(dir, "secret.tf"), join(scripts, "outside.tf"));
    await behaviour({});
    const outside = await satisfier().runTask(task(), farDeadline);
    expect(outside.description).toBe(
      `refused local Terraform source ${scripts}: outside.tf is a symbolic link to ${join(dir, "secret.tf")}, outside the source folder; copy the files into the folder or point the link inside it; nothing was run`,
    );
    await rm(join(scripts, "outside.tf"));
    await symlink(join(scripts, "gone.tf"), join(scripts, "dangling.tf"));
    const dangling = await satisfier().runTask(task(), farDeadline);
    expect(dangling.description).toMatch(/dangling\.tf is a symbolic link to nothing/);
    expect(await calls()).toEqual([]);
    expect(await readdir(workDir)).toEqual([]);
  });

  it("refuses a link loop", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    await mkdir(join(scripts, "sub"));
    await symlink("..", join(scripts, "sub", "up"));
    const report = await satisfier().runTask(task(), farDeadline);
    expect(report.description).toMatch(/sub\/up is a symbolic link into its own parent folder \(a loop\)/);
  });
});

/** True once a process is gone (a zombie counts as gone: it runs nothing). */
async function processGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.split(") ")[1]?.startsWith("Z") ?? false;
  } catch {
    return true;
  }
}

describe("processes that leave the process group (issue 12 item 7)", () => {
  it("kills a child that escaped with setsid when Terraform exits", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    const pidFile = join(dir, "escaped.pid");
    await behaviour({ apply: { setsidPidFile: pidFile } });
    const report = await satisfier().runTask(task(), farDeadline);
    expect(report.event).toBe("TASK_COMPLETED");
    const escaped = Number(await readFile(pidFile, "utf8"));
    expect(await processGone(escaped)).toBe(true);
  });

  it("kills a setsid escapee at the timeout too", async () => {
    await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
    const pidFile = join(dir, "escaped.pid");
    await behaviour({ apply: { setsidPidFile: pidFile, sleepMs: 600_000, ignoreSigterm: true } });
    const report = await satisfier().runTask(task(), {
      remainingMs: (() => {
        const at = performance.now() + 3000;
        return () => at - performance.now();
      })(),
    });
    expect(report.description).toMatch(
      /^terraform apply timed out: .*then SIGKILL .* later because it was still running/,
    );
    expect(await processGone(Number(await readFile(pidFile, "utf8")))).toBe(true);
  });
});
