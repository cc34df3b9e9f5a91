import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { buildInto, root, run, TEST_VERSION } from "./release-helpers.js";
import { readZip } from "./zip-reader.js";

const SPEC = `version: 1
events: [LAUNCH, DESTROY]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [provision]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: TEARDOWN }]
  TEARDOWN:
    terminal: true
    tasks: [teardown]
tasks:
  provision:
    executor: terraform
    config: { action: apply, source: { type: local, location: /opt/stacks/app } }
  teardown:
    executor: terraform
    config: { action: destroy, source: { type: local, location: /opt/stacks/app } }
`;

// Calls the handler the way the Lambda runtime does: import index.mjs, call handler(event, context).
const RUNNER = `import { readFileSync } from "node:fs";
const { handler } = await import("./index.mjs");
const event = JSON.parse(readFileSync(process.argv[2], "utf8"));
const context = {
  functionName: "smoke", functionVersion: "$LATEST", awsRequestId: "req-1", memoryLimitInMB: "512",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:smoke", logGroupName: "/aws/lambda/smoke",
  logStreamName: "smoke", callbackWaitsForEmptyEventLoop: false, getRemainingTimeInMillis: () => 300000,
};
const result = await handler(event, context);
process.stdout.write("\\n__RESULT__" + JSON.stringify(result ?? null) + "\\n");
process.exit(0);
`;

// Used only when the shared fixture (test/fixtures/fake-terraform) is absent; records calls the same way.
const FAKE_TERRAFORM = `#!/usr/bin/env node
require("node:fs").appendFileSync(process.env.FAKE_TF_RECORD, JSON.stringify({ argv: process.argv.slice(2) }) + "\\n");
`;

/** Unzips one release zip with our own reader into an empty folder outside the repository. */
async function unpack(zip: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "stackseam-unzipped-"));
  for (const e of readZip(await readFile(zip)))
    await writeFile(join(dir, e.name), e.data, { mode: e.mode & 0o777 });
  await writeFile(join(dir, "runner.mjs"), RUNNER);
  return dir;
}

/** Node echoes the failing source line on a crash; in a minified bundle that line is the whole file. */
function readable(output: string): string {
  return output
    .split("\n")
    .map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l))
    .join("\n")
    .slice(-6000);
}

/** The module is all ASCII (build-release.mjs escapes the rest): decoded faster, and held one byte a character. */
async function expectAscii(file: string): Promise<void> {
  expect((await readFile(file)).findIndex((byte) => byte > 0x7f)).toBe(-1);
}

/** Runs the unzipped function in a bare Node with only the given environment; returns the handler's result. */
async function invoke(dir: string, event: unknown, env: Record<string, string>): Promise<unknown> {
  const eventFile = join(dir, "event.json");
  await writeFile(eventFile, JSON.stringify(event));
  // No NODE_PATH, no NODE_OPTIONS, cwd outside the repo: only what the zip holds can be imported.
  const r = await run(process.execPath, ["runner.mjs", eventFile], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
  });
  const marker = r.stdout.lastIndexOf("__RESULT__");
  if (r.code !== 0 || marker < 0) {
    throw new Error(`handler run failed (${r.code}):\n${readable(r.stdout)}\n${readable(r.stderr)}`);
  }
  return JSON.parse(r.stdout.slice(marker + "__RESULT__".length).trim());
}

/**
 * fauxqs bound to 127.0.0.1 names its queues `http://sqs.<region>.127.0.0.1:<port>/…`, which WHATWG
 * URL parsing rejects (a host ending in a number must be an IPv4 address), so the functions' config
 * check refuses it. Real queue URLs never look like that; the AWS-style `sqs.<region>.localhost`
 * host is what the functions would see, and requests still go to AWS_ENDPOINT_URL.
 */
function queueUrlFor(aws: TestAws, url: string): string {
  const port = new URL(aws.endpoint).port;
  return url.replace(/^http:\/\/[^/]+/, `http://sqs.${aws.region}.localhost:${port}`);
}

/** Environment for a function pointed at the test AWS, with queue URLs the functions accept. */
function awsEnv(aws: TestAws): Record<string, string> {
  return {
    ...aws.env,
    SQS_EVENT_QUEUE_URL: queueUrlFor(aws, aws.eventQueueUrl),
    SQS_TASK_QUEUE_URL: queueUrlFor(aws, aws.taskQueueUrl),
  };
}

async function receiveAll(aws: TestAws, queueUrl: string): Promise<unknown[]> {
  const got = await aws.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  return (got.Messages ?? []).map((m) => JSON.parse(m.Body ?? "null"));
}

describe("release zips run on a bare Node", () => {
  let release: string;
  let aws: TestAws;
  let db: TestDatabase;
  const scratch: string[] = [];

  beforeAll(async () => {
    [release, aws, db] = await Promise.all([
      buildInto("stackseam-smoke-release-"),
      startTestAws(),
      createTestDatabase({ migrate: true }),
    ]);
  });

  afterAll(async () => {
    await aws?.stop();
    await db?.drop();
    await Promise.all(
      [release, ...scratch].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })),
    );
  });

  it("state-manager: handles a LAUNCH record end to end (stack row + task message)", async () => {
    const dir = await unpack(join(release, `state-manager-${TEST_VERSION}.zip`));
    await expectAscii(join(dir, "index.mjs"));
    const specs = await mkdtemp(join(tmpdir(), "stackseam-smoke-specs-"));
    scratch.push(dir, specs);
    await writeFile(join(specs, "qa-env.yml"), SPEC);
    const body = JSON.stringify({
      stackId: "smoke-1",
      event: "LAUNCH",
      machine: "qa-env",
      metadata: { tag: "e724e90" },
    });
    const event = {
      Records: [
        {
          messageId: "0b5c1c8e-0000-4000-8000-000000000001",
          receiptHandle: "smoke-receipt",
          body,
          attributes: {
            ApproximateReceiveCount: "1",
            SentTimestamp: "1700000000000",
            SenderId: "AIDATEST",
            ApproximateFirstReceiveTimestamp: "1700000000000",
          },
          messageAttributes: {},
          md5OfBody: "",
          eventSource: "aws:sqs",
          eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:stackseam-events",
          awsRegion: "us-east-1",
        },
      ],
    };
    const result = await invoke(dir, event, {
      ...awsEnv(aws),
      DATABASE_URL: db.url,
      MACHINE_LOCATOR: "LOCAL_FS",
      MACHINE_SPEC_DIR: specs,
    });
    expect(result).toEqual({ batchItemFailures: [] });

    const tasks = (await receiveAll(aws, aws.taskQueueUrl)) as Array<Record<string, unknown>>;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      stackId: "smoke-1",
      machine: "qa-env",
      state: "PROVISION",
      task: "provision",
      executor: "terraform",
      attempt: 1,
      metadata: { tag: "e724e90" },
    });

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const rows = await client.query<{ id: string; machine: string; state: string }>(
        "SELECT id, machine, state FROM stacks WHERE id = $1",
        ["smoke-1"],
      );
      expect(rows.rows).toEqual([{ id: "smoke-1", machine: "qa-env", state: "PROVISION" }]);
    } finally {
      await client.end();
    }
  });

  it("task-satisfier: runs a directly invoked terraform task and reports TASK_COMPLETED", async () => {
    const dir = await unpack(join(release, `task-satisfier-${TEST_VERSION}.zip`));
    await expectAscii(join(dir, "index.mjs"));
    const work = await mkdtemp(join(tmpdir(), "stackseam-smoke-tf-"));
    scratch.push(dir, work);
    const source = join(work, "stack");
    await mkdir(source);
    // A module must say where its state lives (the satisfier refuses one whose state would die with the run).
    await writeFile(
      join(source, "main.tf"),
      'terraform {\n  backend "s3" {\n    bucket = "smoke-state"\n    region = "us-east-1"\n    use_lockfile = true\n  }\n}\nvariable "stack_id" {}\n',
    );
    const shared = join(root, "test/fixtures/fake-terraform/terraform");
    let terraform = shared;
    if (!existsSync(shared)) {
      terraform = join(work, "terraform");
      await writeFile(terraform, FAKE_TERRAFORM);
      await chmod(terraform, 0o755);
    }
    const message = {
      stackId: "smoke-2",
      machine: "qa-env",
      state: "PROVISION",
      task: "provision",
      executor: "terraform",
      config: { action: "apply", source: { type: "local", location: source } },
      metadata: { tag: "e724e90" },
      token: "smoke-token-1",
      attempt: 1,
    };
    const record = join(work, "terraform-calls.jsonl");
    await invoke(dir, message, {
      ...awsEnv(aws),
      TERRAFORM_BIN: terraform,
      HOME: work,
      FAKE_TF_RECORD: record,
    });

    const calls = (await readFile(record, "utf8"))
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { argv: string[] }).argv);
    // After apply, the outputs are read for the report.
    expect(calls.map((argv) => argv[0])).toEqual(["init", "apply", "output"]);
    expect(calls[2]).toContain("-json");
    expect(calls[1]).toEqual(
      expect.arrayContaining(["-auto-approve", "-var", "stack_id=smoke-2", "tag=e724e90"]),
    );

    const reports = await receiveAll(aws, aws.eventQueueUrl);
    expect(reports).toEqual([
      expect.objectContaining({
        stackId: "smoke-2",
        event: "TASK_COMPLETED",
        task: "provision",
        token: "smoke-token-1",
      }),
    ]);
  });
});
