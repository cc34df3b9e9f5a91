import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import type { TaskMessage } from "@stackseam/core";
import { createTaskSatisfier, localLambdaInvoker } from "@stackseam/task-satisfier";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { deadlineIn, farDeadline, silentLogger, terraformTask } from "./support.js";

const FAKE_TF = new URL("../../../test/fixtures/fake-terraform/terraform", import.meta.url).pathname;
/** A root module that declares its backend: Stackseam only passes the key. */
const DECLARES_BACKEND = 'terraform {\n  backend "s3" {}\n}\nvariable "stack_id" {}\n';

interface Call {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  files: string[];
}

let aws: TestAws;
let dir: string; // per test: scripts, record file, work dir
let workDir: string;
let scripts: string;
let recordFile: string;

beforeAll(async () => {
  aws = await startTestAws({ bucket: "tf-scripts" });
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-tf-test-"));
  workDir = join(dir, "work");
  scripts = join(dir, "scripts");
  recordFile = join(dir, "calls.jsonl");
  await mkdir(workDir);
  await mkdir(join(scripts, "modules", "db"), { recursive: true });
  await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
  await writeFile(join(scripts, "modules", "db", "main.tf"), "# db\n");
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** Tells the fake terraform how to behave when it runs in a copy of `scripts`. */
async function fakeBehaviour(behaviour: Record<string, unknown>, into = scripts) {
  await writeFile(join(into, "fake-terraform.json"), JSON.stringify({ record: recordFile, ...behaviour }));
}

async function calls(): Promise<Call[]> {
  if (!existsSync(recordFile)) return [];
  return (await readFile(recordFile, "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Call);
}

function satisfier(opts: { bin?: string; margin?: number; logger?: Logger } = {}) {
  return createTaskSatisfier({
    sqs: aws.sqs,
    eventQueueUrl: aws.eventQueueUrl,
    s3: aws.s3,
    invoker: localLambdaInvoker(dir),
    terraformBin: opts.bin ?? FAKE_TF,
    workDir,
    deadlineMarginMs: opts.margin ?? 1000,
    logger: opts.logger ?? silentLogger(),
  });
}

function localTask(config: Record<string, unknown> = {}, overrides: Partial<TaskMessage> = {}) {
  return terraformTask({
    config: { action: "apply", source: { type: "local", location: scripts }, ...config },
    ...overrides,
  });
}

/** True once a process is gone (a zombie waiting for a reaper counts as gone: it runs nothing). */
async function processGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.split(") ")[1]?.startsWith("Z") ?? false;
  } catch {
    return true;
  }
}

describe("terraform executor: command contract", () => {
  it("runs init then apply with the exact argv in a temp copy of a local folder, then removes it", async () => {
    await fakeBehaviour({});
    const report = await satisfier().runTask(
      localTask(
        { variables: { region: "eu-west-1" } },
        { metadata: { apiImageTag: "e724e90", replicas: 2 } },
      ),
      farDeadline,
    );
    expect(report).toEqual({
      stackId: "feature-123",
      event: "TASK_COMPLETED",
      task: "infra",
      token: "tok-1",
      outputs: {},
    });

    const [init, apply, output, ...more] = await calls();
    expect(more).toEqual([]);
    expect(output?.argv).toEqual(["output", "-json", "-no-color"]);
    expect(init?.argv).toEqual([
      "init",
      "-input=false",
      "-no-color",
      `-backend-config=key=qa-env/feature-123/${scripts.slice(1)}`,
    ]);
    expect(apply?.argv).toEqual([
      "apply",
      "-auto-approve",
      "-input=false",
      "-no-color",
      "-lock-timeout=300s",
      "-var",
      "stack_id=feature-123",
      "-var",
      "apiImageTag=e724e90",
      "-var",
      "replicas=2",
      "-var",
      "region=eu-west-1",
    ]);
    expect(init?.files).toEqual(["fake-terraform.json", "main.tf", "modules/db/main.tf"]);
    expect(init?.cwd.startsWith(join(workDir, "stackseam-tf-"))).toBe(true);
    expect(apply?.cwd).toBe(init?.cwd);
    expect(init?.env.TF_IN_AUTOMATION).toBe("1");
    expect(init?.env.TF_INPUT).toBe("0");
    expect(init?.env.TF_DATA_DIR).toBe(join(init!.cwd, "..", "tf-data"));
    expect(await readdir(workDir)).toEqual([]);
  });

  it("runs destroy and honours metadataVariables", async () => {
    await fakeBehaviour({});
    await satisfier().runTask(
      localTask(
        { action: "destroy", metadataVariables: ["owner"] },
        { metadata: { owner: "ann", apiImageTag: "x" } },
      ),
      farDeadline,
    );
    const [, destroy, ...more] = await calls();
    expect(more).toEqual([]); // no outputs after a destroy
    expect(destroy?.argv).toEqual([
      "destroy",
      "-auto-approve",
      "-input=false",
      "-no-color",
      "-lock-timeout=300s",
      "-var",
      "stack_id=feature-123",
      "-var",
      "owner=ann",
    ]);
  });

  it("copies a single local file", async () => {
    await fakeBehaviour({});
    // The behaviour file is not copied with a single-file source, so point the fake at the record by env.
    vi.stubEnv("FAKE_TF_RECORD", recordFile);
    const report = await satisfier().runTask(
      localTask({ source: { type: "local", location: join(scripts, "main.tf") } }),
      farDeadline,
    );
    vi.unstubAllEnvs();
    expect(report.event).toBe("TASK_COMPLETED");
    const [init] = await calls();
    expect(init?.files).toEqual(["main.tf"]);
  });

  it("gives Terraform a writable HOME under the temp dir when HOME is not writable", async () => {
    await fakeBehaviour({});
    vi.stubEnv("HOME", "/nonexistent/home");
    await satisfier().runTask(localTask(), farDeadline);
    vi.unstubAllEnvs();
    const [init] = await calls();
    expect(init?.env.HOME).toBe(join(init!.cwd, "..", "home"));
  });

  it("streams the output to the logs line by line with stackId and task", async () => {
    await fakeBehaviour({});
    const lines: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    await satisfier({ logger: new Logger({ serviceName: "test", logLevel: "INFO" }) }).runTask(
      localTask(),
      farDeadline,
    );
    vi.restoreAllMocks();
    const logs = lines
      .flatMap((l) => l.split("\n"))
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = logs.find((l) => l.message === "FAKE-TF-START apply");
    expect(line).toMatchObject({
      stackId: "feature-123",
      task: "infra",
      token: "tok-1",
      step: "apply",
      stream: "stdout",
    });
  });
});

describe("terraform executor: S3 source", () => {
  it("copies every object under the prefix, across ListObjectsV2 pages", async () => {
    const prefix = `infra-${randomUUID()}/`;
    const keys = Array.from({ length: 1100 }, (_, i) => `${prefix}gen/file-${String(i).padStart(4, "0")}.tf`);
    keys.push(`${prefix}main.tf`);
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: `${prefix}backend.tf`, Body: DECLARES_BACKEND }),
    );
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(
        keys
          .slice(i, i + 100)
          .map((Key) => aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key, Body: `# ${Key}\n` }))),
      );
    }
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: aws.bucket,
        Key: `${prefix}fake-terraform.json`,
        Body: JSON.stringify({ record: recordFile }),
      }),
    );
    const firstPage = await aws.s3.send(new ListObjectsV2Command({ Bucket: aws.bucket, Prefix: prefix }));
    expect(firstPage.IsTruncated).toBe(true); // so the copy has to follow the continuation token
    // Not under the prefix: must not be copied.
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: `${prefix.slice(0, -1)}-old/x.tf`, Body: "#" }),
    );

    const report = await satisfier().runTask(
      localTask({ source: { type: "s3", bucket: aws.bucket, key: prefix } }),
      farDeadline,
    );
    expect(report.event).toBe("TASK_COMPLETED");
    const [init] = await calls();
    expect(init?.argv[3]).toBe(`-backend-config=key=qa-env/feature-123/${prefix.slice(0, -1)}`);
    expect(init?.files).toHaveLength(1103);
    expect(init?.files).toContain("gen/file-1099.tf");
    expect(init?.files).toContain("main.tf");
    expect(await readdir(workDir)).toEqual([]);
  });

  it("refuses a key that would escape the temp dir, running nothing", async () => {
    const prefix = `hostile-${randomUUID()}/`;
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: `${prefix}main.tf`, Body: "#" }));
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: `${prefix}../../escape.tf`, Body: "# evil" }),
    );
    const report = await satisfier().runTask(
      localTask({ source: { type: "s3", bucket: aws.bucket, key: prefix } }),
      farDeadline,
    );
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toBe(
      `refused S3 object key "${prefix}../../escape.tf" under s3://${aws.bucket}/${prefix}: its path would land outside the working directory; nothing was run`,
    );
    expect(await calls()).toEqual([]);
    expect(existsSync(join(workDir, "escape.tf"))).toBe(false);
    expect(existsSync(join(dir, "escape.tf"))).toBe(false);
    expect(await readdir(workDir)).toEqual([]);
  });

  it("reports an empty prefix instead of applying an empty configuration", async () => {
    const report = await satisfier().runTask(
      localTask({ source: { type: "s3", bucket: aws.bucket, key: `nothing-${randomUUID()}/` } }),
      farDeadline,
    );
    expect(report.description).toMatch(/^no Terraform scripts found at s3:\/\/tf-scripts\/nothing-/);
  });

  it("reports a missing bucket as TASK_ERROR", async () => {
    const report = await satisfier().runTask(
      localTask({ source: { type: "s3", bucket: "no-such-bucket", key: "x/" } }),
      farDeadline,
    );
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toMatch(
      /^copying the Terraform scripts failed: S3 ListObjectsV2 on s3:\/\/no-such-bucket\/x\/: /,
    );
  });
});

describe("terraform executor: hostile input and failures", () => {
  it("passes hostile metadata as literal argument text and executes nothing", async () => {
    await fakeBehaviour({});
    const marker = `/tmp/pwned-${randomUUID()}`;
    const metadata = {
      quote: `'; touch ${marker} #`,
      subst: `$(touch ${marker})`,
      backtick: `\`touch ${marker}\``,
      id: "$(id)",
    };
    const report = await satisfier().runTask(localTask({}, { metadata }), farDeadline);
    expect(report.event).toBe("TASK_COMPLETED");
    const [, apply] = await calls();
    expect(apply?.argv).toContain(`quote='; touch ${marker} #`);
    expect(apply?.argv).toContain(`subst=$(touch ${marker})`);
    expect(apply?.argv).toContain(`backtick=\`touch ${marker}\``);
    expect(apply?.argv).toContain("id=$(id)");
    expect(existsSync(marker)).toBe(false);
  });

  it("reports a non-zero exit with the step, the exit code and the output tail", async () => {
    await fakeBehaviour({ init: { exit: 3 } });
    const report = await satisfier().runTask(localTask(), farDeadline);
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toBe(
      "terraform init failed (exit code 3)\n--- last output ---\nFAKE-TF-START init\n",
    );
    expect((await calls()).map((c) => c.argv[0])).toEqual(["init"]);
    expect(await readdir(workDir)).toEqual([]);
  });

  it("keeps only the last ~4 KB of 1 MB of output", async () => {
    await fakeBehaviour({ apply: { exit: 1, outputBytes: 1024 * 1024 } });
    const report = await satisfier().runTask(localTask(), farDeadline);
    expect(report.event).toBe("TASK_ERROR");
    const description = report.description ?? "";
    expect(description.startsWith("terraform apply failed (exit code 1)\n--- last output ---\n[… ")).toBe(
      true,
    );
    expect(description).toMatch(/earlier bytes omitted/);
    expect(description.endsWith("FAKE-TF-END\n")).toBe(true);
    expect(description.length).toBeGreaterThan(4096);
    expect(description.length).toBeLessThan(4096 + 200);
  });

  it("kills the whole process group at the deadline and says when each signal was sent (issue 12, item 7)", async () => {
    const pidFile = join(dir, "child.pid");
    await fakeBehaviour({ apply: { sleepMs: 600_000, ignoreSigterm: true, childPidFile: pidFile } });
    // 1 s margin: apply gets SIGTERM about 2 s in, then SIGKILL a grace period (333 ms) later.
    const report = await satisfier({ margin: 1000 }).runTask(localTask(), deadlineIn(3000));
    expect(report.event).toBe("TASK_ERROR");
    const m =
      /^terraform apply timed out: SIGTERM sent (\d+\.\d) s after it started \((\d+\.\d) s before the Lambda deadline\), then SIGKILL (\d+\.\d) s later because it was still running \(\d+ process\(es\) it had started were killed too\)\n--- last output ---\nFAKE-TF-START apply/.exec(
        report.description ?? "",
      );
    expect(m, report.description).not.toBeNull();
    // The SIGKILL came after SIGTERM, not at it: the old text said "stopped 1.0 s before the deadline
    // and its process group was killed" although the kill came a grace period later.
    expect(Number(m?.[3])).toBeGreaterThanOrEqual(0.3);
    expect(Number(m?.[2])).toBeLessThanOrEqual(1.1);
    const [, apply] = await calls();
    const fakePid = (apply as Call & { pid: number }).pid;
    const childPid = Number(await readFile(pidFile, "utf8"));
    expect(await processGone(fakePid)).toBe(true);
    expect(await processGone(childPid)).toBe(true);
    expect(await readdir(workDir)).toEqual([]);
  });

  it("does not start when the deadline leaves no time after the margin", async () => {
    await fakeBehaviour({});
    const report = await satisfier({ margin: 30_000 }).runTask(localTask(), deadlineIn(20_000));
    expect(report.description).toMatch(
      /^not started: only \d+\.\d s left before the Lambda deadline and 30\.0 s are kept back/,
    );
    expect(await calls()).toEqual([]);
  });

  it("names TERRAFORM_BIN when the binary is missing, and still cleans up", async () => {
    await fakeBehaviour({});
    const report = await satisfier({ bin: join(dir, "no-such-terraform") }).runTask(localTask(), farDeadline);
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toBe(
      `terraform init failed: the Terraform binary "${join(dir, "no-such-terraform")}" was not found (TERRAFORM_BIN); install terraform or tofu on PATH or set TERRAFORM_BIN to its absolute path (in Lambda, a layer providing /opt/bin/terraform)`,
    );
    expect(await readdir(workDir)).toEqual([]);
  });

  it("reports a missing local source", async () => {
    const report = await satisfier().runTask(
      localTask({ source: { type: "local", location: join(dir, "nope") } }),
      farDeadline,
    );
    expect(report.description).toBe(`local Terraform source ${join(dir, "nope")} cannot be read (ENOENT)`);
    expect(await readdir(workDir)).toEqual([]);
  });

  it("reports an invalid config", async () => {
    const report = await satisfier().runTask(terraformTask({ config: { action: "plan" } }), farDeadline);
    expect(report.description).toMatch(
      /^invalid terraform config: config.action must be "apply" or "destroy"/,
    );
  });
});
