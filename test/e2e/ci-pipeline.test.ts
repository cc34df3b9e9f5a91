import { execFile } from "node:child_process";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commands } from "../../packages/cli/src/registry.js";
import type { ProgressLine } from "../../packages/cli/src/watch/progress.js";
import { type WaitResult, waitForStack } from "../../packages/cli/src/watch/wait.js";
import {
  buildCli,
  cli,
  type DevProcess,
  eventually,
  ROOT,
  removeDir,
  startDev,
  tempDataDir,
} from "./dev-harness.js";

// The pipeline of examples/ci/ against a real `stackseam dev` (its own embedded PostgreSQL, so the
// connection and statement counts below are this file's alone), and what many waits cost it.

const SCRIPT = join(ROOT, "examples/ci/preview-env.sh");
const MAIN = join(ROOT, "packages/cli/dist/main.js");

// A machine like qa-env whose provisioning fails the way Terraform does: warnings, then the error.
const BROKEN_FUNCTION = `export async function handler() {
  const err = new Error([
    "terraform apply failed (exit code 1)",
    "╷", "│ Warning: Argument is deprecated", "╵",
    "╷", "│ Error: creating S3 Bucket (pr-8-assets): BucketAlreadyExists", "╵",
  ].join("\\n"));
  err.name = "TerraformFailure";
  throw err;
}
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("examples/ci: the preview-environment pipeline against dev", { timeout: 300_000 }, () => {
  let dataDir: string;
  let dev: DevProcess;
  let outputFile: string;

  beforeAll(async () => {
    await buildCli();
    dataDir = await tempDataDir();
    const specs = join(dataDir, "specs");
    const functions = join(dataDir, "functions");
    await cp(join(ROOT, "examples/specs"), specs, { recursive: true });
    await cp(join(ROOT, "examples/functions"), functions, { recursive: true });
    const qaEnv = await readFile(join(specs, "qa-env.yml"), "utf8");
    await writeFile(
      join(specs, "broken-env.yml"),
      qaEnv.replace("name: provision-env", "name: provision-broken"),
    );
    await writeFile(join(functions, "provision-broken.mjs"), BROKEN_FUNCTION);
    outputFile = join(dataDir, "github-output");
    dev = await startDev({ dataDir, databaseUrl: null, specsDir: specs, functionsDir: functions });
  });

  afterAll(async () => {
    if (dev) await dev.stop("SIGINT");
    if (dataDir) await removeDir(dataDir);
  });

  /** Runs the pipeline script as a CI job would: bash, the CLI on PATH (here: as STACKSEAM). */
  function pipeline(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
      for (const k of Object.keys(childEnv))
        if (k === "DATABASE_URL" || k.startsWith("SQS_") || k.startsWith("AWS_")) delete childEnv[k];
      Object.assign(childEnv, {
        STACKSEAM: `${process.execPath} ${MAIN}`,
        STACKSEAM_DATA_DIR: dataDir,
        GITHUB_OUTPUT: outputFile,
        PREVIEW_TIMEOUT: "2m",
        ...env,
      });
      execFile("bash", [SCRIPT, ...args], { cwd: dataDir, env: childEnv }, (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(err);
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      });
    });
  }

  // The pipeline reads the URL with `stacks outputs <id> url`; until that subcommand exists the
  // ready case cannot pass (the failing and destroying ones do not read outputs).
  const stacksWords = commands.stacks?.args[0];
  const hasOutputs = typeof stacksWords === "object" && stacksWords.words.includes("outputs");

  it.skipIf(!hasOutputs)(
    "up: LAUNCH with the commit, wait until RUN, print the URL (and hand it to GitHub Actions)",
    async () => {
      await writeFile(outputFile, "");
      const r = await pipeline(["up", "7", "e724e90"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("https://pr-7.qa.example.test\n");
      expect(await readFile(outputFile, "utf8")).toBe("url=https://pr-7.qa.example.test\n");
      expect(r.stderr).toContain("preview pr-7: LAUNCH for commit e724e90");
      expect(r.stderr).toMatch(/INIT → PROVISION {2}on LAUNCH/);
      expect(r.stderr).toMatch(/✓ provision-env \(attempt 1\)/);
      expect(r.stderr).toMatch(/pr-7 settled in RUN/);
      const show = await cli(dataDir, ["stacks", "show", "pr-7", "--json"]);
      expect(JSON.parse(show.stdout)).toMatchObject({ state: "RUN", metadata: { commit: "e724e90" } });
    },
  );

  it("up: a failing environment fails the job with the task, its attempt and its error", async () => {
    const r = await pipeline(["up", "8", "0badc0de"], { PREVIEW_MACHINE: "broken-env" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      "pr-8: task provision-env failed in PROVISION (attempt 1): Lambda function provision-broken failed: TerraformFailure: terraform apply failed (exit code 1): Error: creating S3 Bucket (pr-8-assets): BucketAlreadyExists",
    );
    expect(r.stderr).not.toContain("Warning");
    expect(r.stderr).toContain("preview pr-8: a task failed");
  });

  it("down: DESTROY, wait until the stack is removed; again: nothing to do", async () => {
    const launched = await cli(dataDir, [
      "send",
      "pr-9",
      "LAUNCH",
      "--machine",
      "qa-env",
      "--wait",
      "--state",
      "RUN",
    ]);
    expect(launched.code, launched.stderr).toBe(0);
    const r = await pipeline(["down", "9"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/TEARDOWN → removed {2}on TASK_COMPLETED/);
    expect(r.stderr).toContain("preview pr-9: removed");
    const again = await pipeline(["down", "9"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("no such stack");
  });

  it("50 concurrent waits cost the database no statement while other stacks change", async () => {
    const info = dev.instance();
    const sqs = new SQSClient({
      endpoint: info.endpoint,
      region: info.region,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const admin = new pg.Client({ connectionString: info.databaseUrl });
    await admin.connect();
    const send = async (messages: object[]) => {
      for (let i = 0; i < messages.length; i += 10)
        await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: info.eventQueueUrl,
            Entries: messages
              .slice(i, i + 10)
              .map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) })),
          }),
        );
    };
    const ids = Array.from({ length: 50 }, (_, i) => `many-${i}`);
    const inState = (state: string, stacks: string[]) =>
      eventually(`${stacks.length} stacks in ${state}`, async () => {
        const r = await admin.query(
          "SELECT count(*)::int AS n FROM stacks WHERE id = ANY($1) AND state = $2",
          [stacks, state],
        );
        return r.rows[0]?.n === stacks.length ? true : undefined;
      });
    try {
      await send(
        ids.map((stackId) => ({ stackId, event: "LAUNCH", machine: "qa-env", metadata: { delayMs: 0 } })),
      );
      await inState("RUN", ids);

      // Each waits for FROZEN: settled elsewhere, so it sleeps until its stack changes.
      const waiting = new Set<string>();
      let allWaiting: () => void = () => {};
      const ready = new Promise<void>((resolve) => {
        allWaiting = resolve;
      });
      const waits: Promise<WaitResult>[] = ids.map((stackId) =>
        waitForStack({
          databaseUrl: info.databaseUrl,
          stackId,
          state: "FROZEN",
          timeoutMs: 240_000,
          // The once-a-minute re-read is a cost of its own (docs/cli.md); here only wake-ups count.
          safetyPollMs: 600_000,
          onProgress: (line: ProgressLine) => {
            if (line.text.startsWith("waiting:")) waiting.add(stackId);
            if (waiting.size === ids.length) allWaiting();
          },
        }),
      );
      await ready;
      const backends = async () =>
        new Map(
          (
            await admin.query<{ pid: number; query_start: Date; query: string }>(
              "SELECT pid, query_start, query FROM pg_stat_activity WHERE application_name = 'stackseam-wait'",
            )
          ).rows.map((r) => [r.pid, `${r.query_start.toISOString()} ${r.query}`]),
        );
      const before = await backends();
      expect(before.size).toBe(50);

      // Other stacks change meanwhile: 10 launched to RUN, 10 no-op events (notifications on
      // other channels).
      const others = Array.from({ length: 10 }, (_, i) => `other-${i}`);
      await send(
        others.map((stackId) => ({ stackId, event: "LAUNCH", machine: "qa-env", metadata: { delayMs: 0 } })),
      );
      await inState("RUN", others);
      await send(others.map((stackId) => ({ stackId, event: "TOUCH" })));
      await eventually("the TOUCH events recorded", async () => {
        const r = await admin.query(
          "SELECT count(*)::int AS n FROM history WHERE event = 'TOUCH' AND stack_id = ANY($1)",
          [others],
        );
        return r.rows[0]?.n === others.length ? true : undefined;
      });
      // Not one statement from any wait: the same last query, started at the same instant.
      expect(await backends()).toEqual(before);

      // Their own stacks move: each wait wakes, reads and returns.
      await send(ids.map((stackId) => ({ stackId, event: "FREEZE" })));
      const results = await Promise.all(waits);
      expect(results.map((r) => `${r.result} ${r.stack?.state}`)).toEqual(ids.map(() => "settled FROZEN"));
      expect(results.every((r) => r.mode === "listen")).toBe(true);
    } finally {
      sqs.destroy();
      await admin.end();
    }
  });
});
