// What a TASK_ERROR says when the Terraform binary itself misbehaves (TERRAFORM_BIN is not
// executable, a step is killed by a signal, `terraform output -json` prints something unusable), and
// when the run is stopped from outside (the runner's SIGTERM). Small shell scripts stand in for
// Terraform so each failure is certain.
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { createTaskSatisfier, localLambdaInvoker } from "@stackseam/task-satisfier";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DECLARES_BACKEND, FUNCTIONS_DIR, farDeadline, silentLogger, terraformTask } from "./support.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "stackseam-tf-bin-"));
  await mkdir(join(dir, "scripts"));
  await writeFile(join(dir, "scripts", "main.tf"), DECLARES_BACKEND);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in Terraform: `init` and `apply` succeed unless `script` says otherwise for `$1`. */
async function fakeBin(script: string, mode = 0o755): Promise<string> {
  const bin = join(dir, "terraform");
  await writeFile(bin, `#!/bin/sh\n${script}\nexit 0\n`);
  await chmod(bin, mode);
  return bin;
}

const run = (bin: string, opts: { signal?: AbortSignal } = {}) =>
  createTaskSatisfier({
    s3: new S3Client({ region: "us-east-1" }),
    invoker: localLambdaInvoker(FUNCTIONS_DIR),
    terraformBin: bin,
    logger: silentLogger(),
    deadlineMarginMs: 1000,
  }).runTask(
    terraformTask({ config: { action: "apply", source: { type: "local", location: join(dir, "scripts") } } }),
    farDeadline,
    opts,
  );

describe("the Terraform binary misbehaving", () => {
  it("says TERRAFORM_BIN is not executable", async () => {
    const bin = await fakeBin("", 0o644);
    const report = await run(bin);
    expect(report).toMatchObject({
      event: "TASK_ERROR",
      description: `terraform init failed: the Terraform binary ${JSON.stringify(bin)} (TERRAFORM_BIN) is not executable`,
    });
  });

  it("names the signal that killed a step, and says it printed nothing", async () => {
    const bin = await fakeBin('[ "$1" = apply ] && kill -KILL $$');
    const report = await run(bin);
    expect(report).toMatchObject({
      event: "TASK_ERROR",
      description: "terraform apply failed (killed by SIGKILL)\n(no output)",
    });
  });

  it("refuses outputs that are not JSON without quoting them", async () => {
    const bin = await fakeBin('[ "$1" = output ] && echo \'{"password": hunter2}\'');
    const report = await run(bin);
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toMatch(/^terraform output -json printed something that is not JSON \(/);
    expect(report.description).not.toContain("hunter2");
  });

  it("refuses outputs too big to report", async () => {
    // 9 MiB of JSON: more than the 8 MiB the output step keeps.
    const bin = await fakeBin(
      '[ "$1" = output ] && { printf \'{"blob":{"sensitive":false,"value":"\'; head -c 9437184 /dev/zero | tr "\\0" a; printf \'"}}\'; }',
    );
    const report = await run(bin);
    expect(report).toMatchObject({
      event: "TASK_ERROR",
      description: `terraform output printed more than ${8 * 1024 * 1024} bytes; the outputs are too big to report`,
    });
  });

  it("says a run stopped from outside was stopped, and why", async () => {
    const started = join(dir, "started");
    const bin = await fakeBin(
      `[ "$1" = apply ] && { echo planning; trap "exit 143" TERM; touch ${started}; sleep 30 & wait; }`,
    );
    const controller = new AbortController();
    const running = run(bin, { signal: controller.signal });
    await expect.poll(() => existsSync(started), { timeout: 20_000 }).toBe(true);
    controller.abort(new Error("the runner received SIGTERM"));
    // Whether the backgrounded sleep is gone at SIGTERM or needs the SIGKILL is up to the scheduler.
    const report = await running;
    expect(report.event).toBe("TASK_ERROR");
    expect(report.description).toMatch(
      /^terraform apply was stopped \(the runner received SIGTERM\): SIGTERM sent \d+\.\d s after it started(; it stopped \d+\.\d s after SIGTERM|, then SIGKILL \d+\.\d s later because it was still running)( \(1 process\(es\) it had started were killed too\))?\n--- last output ---\nplanning\n/,
    );
  }, 30_000);
});
