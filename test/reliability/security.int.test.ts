import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { parseTaskReport, type Scalar, type TaskMessage } from "@stackseam/core";
import { createLambdaHandler } from "@stackseam/state-manager";
import { createTaskSatisfier, localLambdaInvoker, type TaskSatisfier } from "@stackseam/task-satisfier";
import type { Context, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { drainQueue } from "../support/sqs.js";
import { type Capture, captureOutput } from "./support/capture.js";
import { toRecord } from "./support/event-queue.js";
import { partStarted, recordFigures } from "./support/figures.js";
import { Rng } from "./support/random.js";
import { SEED, SIZES, TEST_TIMEOUT_MS } from "./support/sizes.js";

const FAKE_TF = fileURLToPath(new URL("../fixtures/fake-terraform/terraform", import.meta.url));
const RUN = randomBytes(4).toString("hex");
const MARKER = (n: number) => `/tmp/pwned-${RUN}-${n}`;

/** Values a publisher could put in metadata to break out of an argument vector. */
const HOSTILE: Scalar[] = [
  `'; touch ${MARKER(1)} #`,
  `$(touch ${MARKER(2)})`,
  `\`touch ${MARKER(3)}\``,
  `x\ntouch ${MARKER(4)}`,
  `x && touch ${MARKER(5)}`,
  `| touch ${MARKER(6)}`,
  `"; touch ${MARKER(7)}; echo "`,
  "$(id)",
  "`id`",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion is the point.
  "${HOME}",
  "--var=x",
  "-var",
  "-chdir=/",
  "-destroy",
  "-auto-approve=false",
  "a=b=c",
  "=",
  " leading and trailing ",
  "\t\r",
  "%s%n%x",
  "\\",
  "'single' \"double\"",
  "ünïcödé 日本語 \u202Eevil",
  "A".repeat(16_384),
  `${"B".repeat(8_000)}; touch ${MARKER(8)}`,
  42,
  -1.5e300,
  true,
  false,
];

/** The S3 keys under a prefix that try to leave the temp dir. */
const ESCAPES = (prefix: string) => [
  `${prefix}../../escape-${RUN}.tf`,
  `${prefix}a/../../../escape-${RUN}.tf`,
  `${prefix}../sibling-${RUN}.tf`,
  `${prefix}./../escape-${RUN}.tf`,
  `${prefix}..`,
  `${prefix}sub/../../../../tmp/pwned-${RUN}-s3.tf`,
];

const SPEC = (scripts: string) => `version: 1
events: [LAUNCH, DESTROY]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [infra]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: TEARDOWN }]
  TEARDOWN:
    terminal: true
    tasks: [teardown]
tasks:
  infra:
    executor: terraform
    config: { action: apply, source: { type: local, location: ${scripts} }, variables: { region: eu-west-1 } }
  teardown:
    executor: terraform
    config: { action: destroy, source: { type: local, location: ${scripts} }, variables: { region: eu-west-1 } }
`;

const context = (): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName: "stackseam",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:stackseam",
  memoryLimitInMB: "1024",
  awsRequestId: randomUUID(),
  logGroupName: "/aws/lambda/stackseam",
  logStreamName: "security",
  getRemainingTimeInMillis: () => 15 * 60_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
});

const record = (body: unknown): SQSRecord =>
  toRecord({
    messageId: randomUUID(),
    body: JSON.stringify(body),
    key: "",
    stackId: null,
    visibleAt: 0,
    receiveCount: 1,
  });

interface Call {
  argv: string[];
  cwd: string;
}

describe("reliability: hostile input and secrets", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let admin: pg.Client;
  let dir: string;
  let role: string;
  let password: string;
  let secretUrl: string;
  const ENV_KEYS = [
    "POWERTOOLS_LOG_LEVEL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "FAKE_TF_RECORD",
  ];
  const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws({ bucket: "rel-tf" });
    dir = await mkdtemp(join(tmpdir(), "stackseam-rel-sec-"));
    role = `rel_sec_${RUN}`;
    password = `Pw-${randomBytes(12).toString("hex")}-secret`;
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await admin.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
    await admin.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    const u = new URL(database.url);
    u.username = role;
    u.password = password;
    secretUrl = u.toString();
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await admin?.query(`DROP OWNED BY ${role}`).catch(() => {});
    await admin?.end();
    // The Lambda handlers' pools cannot be closed; their "connection lost" warnings at the drop are expected.
    const quiet = captureOutput();
    await database?.drop().finally(() => quiet.restore());
    expect(quiet.text().includes(password)).toBe(false);
    const server = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
    await server.connect();
    await server.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await server.end();
    await aws?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    `${SIZES.hostileTasks} stacks of hostile metadata reach terraform as literal argv, nothing runs, no secret is logged`,
    async () => {
      partStarted("security-metadata");
      const rng = new Rng(SEED + 7);
      const scripts = join(dir, "scripts");
      const specs = join(dir, "specs");
      const workDir = join(dir, "work");
      const recordFile = join(dir, "calls.jsonl");
      await Promise.all([mkdir(scripts), mkdir(specs), mkdir(workDir)]);
      // A module must declare its backend (or the satisfier supply one): local state is refused.
      await writeFile(
        join(scripts, "main.tf"),
        'terraform {\n  backend "s3" {}\n}\nvariable "stack_id" {}\n',
      );
      await writeFile(join(specs, "tf-env.yml"), SPEC(scripts));

      // Everything the functions print goes through here; DEBUG shows the most there is to leak.
      process.env.POWERTOOLS_LOG_LEVEL = "DEBUG";
      process.env.AWS_ACCESS_KEY_ID = "test";
      process.env.AWS_SECRET_ACCESS_KEY = "test";
      process.env.AWS_REGION = aws.region;
      process.env.FAKE_TF_RECORD = recordFile;
      const env = {
        ...aws.env,
        DATABASE_URL: secretUrl,
        MACHINE_LOCATOR: "LOCAL_FS",
        MACHINE_SPEC_DIR: specs,
        POSTGRES_POOL_MAX: "2",
      };
      const stacks = new Map<string, Record<string, Scalar>>();
      const capture: Capture = captureOutput();
      const smMock = mockClient(SecretsManagerClient);
      try {
        const stateManager = createLambdaHandler(() => env);
        const satisfier: TaskSatisfier = createTaskSatisfier({
          sqs: aws.sqs,
          eventQueueUrl: aws.eventQueueUrl,
          s3: aws.s3,
          invoker: localLambdaInvoker(dir),
          terraformBin: FAKE_TF,
          workDir,
          deadlineMarginMs: 1_000,
        });

        /** Delivers records until none is returned (a transient failure is retried, as SQS would). */
        async function deliver(records: SQSRecord[]): Promise<void> {
          let pending = records;
          for (let round = 0; pending.length > 0; round++) {
            if (round > 20) throw new Error("records keep failing");
            const next: SQSRecord[] = [];
            for (let i = 0; i < pending.length; i += 10) {
              const batch = pending.slice(i, i + 10);
              const res = await stateManager({ Records: batch }, context());
              const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
              next.push(...batch.filter((r) => failed.has(r.messageId)));
            }
            pending = next;
          }
        }

        /** Runs every task message and feeds every report back, until both queues are empty. */
        async function settle(): Promise<void> {
          for (let round = 0; round < 20; round++) {
            const tasks = await drainQueue(aws.sqs, aws.taskQueueUrl);
            for (let i = 0; i < tasks.length; i += 10) {
              const batch = tasks.slice(i, i + 10).map((m) => record(JSON.parse(m.Body ?? "null")));
              const res = await satisfier.handler({ Records: batch }, context());
              expect(res).toEqual({ batchItemFailures: [] });
            }
            const reports = await drainQueue(aws.sqs, aws.eventQueueUrl);
            if (tasks.length === 0 && reports.length === 0) return;
            await deliver(reports.map((m) => record(JSON.parse(m.Body ?? "null"))));
          }
          throw new Error("the pipeline does not settle");
        }

        for (let i = 0; i < SIZES.hostileTasks; i++) {
          const metadata: Record<string, Scalar> = {};
          const count = rng.int(1, 8);
          for (let k = 0; k < count; k++)
            metadata[rng.pick(["m", "var", "chdir", "auto-approve", "x_y", "Z-9"]) + k] = rng.pick(HOSTILE);
          stacks.set(`sec-${i}`, metadata);
        }
        const launches = [...stacks].map(([stackId, metadata]) =>
          record({ stackId, event: "LAUNCH", machine: "tf-env", metadata }),
        );
        await deliver(launches.slice(0, 10));
        // A database fault mid-run puts connection errors in the logs, where a URL could leak.
        await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [
          role,
        ]);
        await deliver(launches.slice(10));
        await settle();
        await deliver([...stacks.keys()].map((stackId) => record({ stackId, event: "DESTROY" })));
        await settle();

        // The same password through a dead endpoint and through a Secrets Manager secret.
        const dead = new URL(secretUrl);
        dead.port = "1";
        const unreachable = createLambdaHandler(() => ({ ...env, DATABASE_URL: dead.toString() }));
        // A cold start that cannot reach the database fails the invocation (its schema check) or
        // returns the record: either way SQS retries it, and the error must not carry the password.
        const res = await unreachable(
          { Records: [record({ stackId: "sec-x", event: "LAUNCH", machine: "tf-env" })] },
          context(),
        ).catch((err: unknown) => err);
        if (res instanceof Error) {
          const told = JSON.stringify({ message: res.message, stack: res.stack, cause: String(res.cause) });
          expect(told).not.toContain(password);
          expect(told).not.toContain(encodeURIComponent(password));
        } else expect((res as { batchItemFailures: unknown[] }).batchItemFailures).toHaveLength(1);
        const u = new URL(secretUrl);
        smMock.on(GetSecretValueCommand).resolves({
          SecretString: JSON.stringify({
            username: role,
            password,
            host: u.hostname,
            port: Number(u.port),
            dbname: u.pathname.slice(1),
          }),
        });
        const { DATABASE_URL: _, ...withoutUrl } = env;
        const viaSecret = createLambdaHandler(() => ({
          ...withoutUrl,
          POSTGRES_CONNECTION_SECRET: "stackseam/database",
          POSTGRES_SSL: "disable",
        }));
        const viaSecretRes = await viaSecret(
          { Records: [record({ stackId: "sec-secret", event: "LAUNCH", machine: "tf-env" })] },
          context(),
        );
        expect(viaSecretRes.batchItemFailures).toEqual([]);
        await settle();
      } finally {
        smMock.restore();
        capture.restore();
      }
      const logs = capture.text();
      const levels = capture.records();

      // The capture saw the run (so its silence about the password means something).
      expect(logs).toContain("State Manager configured");
      expect(logs).toContain("sec-0");
      expect(logs).toContain("terraform apply");
      expect(levels.some((l) => l.level === "ERROR" || l.level === "WARN")).toBe(true);
      for (const form of [password, encodeURIComponent(password), Buffer.from(password).toString("base64")]) {
        expect(logs.includes(form), `the password (as ${form.slice(0, 6)}…) appears in the logs`).toBe(false);
      }
      // Metadata values stay out of info-level logs.
      const infoText = levels
        .filter((l) => l.level === "INFO" || l.level === "WARN" || l.level === "ERROR")
        .map((l) => JSON.stringify(l))
        .join("\n");
      for (const value of HOSTILE.filter((v): v is string => typeof v === "string" && v.length > 20)) {
        expect(
          infoText.includes(JSON.stringify(value).slice(1, -1)),
          `metadata value ${value.slice(0, 30)} logged`,
        ).toBe(false);
      }

      // Every apply and destroy got exactly the argv the contract names, values verbatim.
      const calls = readFileSync(recordFile, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Call);
      const seen = new Map<string, string[]>();
      let outputs = 0;
      for (const call of calls) {
        const [sub] = call.argv;
        if (sub === "init") {
          expect(call.argv.slice(0, 3)).toEqual(["init", "-input=false", "-no-color"]);
          expect(call.argv[3]).toMatch(
            new RegExp(`^-backend-config=key=tf-env/sec-[a-z0-9-]+/${scripts.slice(1)}$`),
          );
          expect(call.argv).toHaveLength(4);
          continue;
        }
        if (sub === "output") {
          // After an apply, the outputs are read: no metadata reaches this call.
          expect(call.argv).toEqual(["output", "-json", "-no-color"]);
          outputs += 1;
          continue;
        }
        expect(["apply", "destroy"]).toContain(sub);
        // The contract (docs/task-satisfier.md): the fixed prefix, stack_id first, then one -var each.
        expect(call.argv.slice(0, 6)).toEqual([
          sub,
          "-auto-approve",
          "-input=false",
          "-no-color",
          "-lock-timeout=300s",
          "-var",
        ]);
        const stackId = call.argv[6]?.replace(/^stack_id=/, "") ?? "";
        expect(call.argv.slice(-2)).toEqual(["-var", "region=eu-west-1"]);
        const middle = call.argv.slice(7, -2);
        const pairs: string[] = [];
        for (let i = 0; i < middle.length; i += 2) {
          expect(middle[i]).toBe("-var");
          pairs.push(middle[i + 1] ?? "");
        }
        const metadata = stacks.get(stackId) ?? {};
        expect(pairs.sort()).toEqual(
          Object.entries(metadata)
            .map(([k, v]) => `${k}=${String(v)}`)
            .sort(),
        );
        seen.set(stackId, [...(seen.get(stackId) ?? []), sub as string]);
      }
      for (const id of stacks.keys()) expect(seen.get(id)?.sort()).toEqual(["apply", "destroy"]);
      expect(outputs).toBe(calls.filter((c) => c.argv[0] === "apply").length);
      // Nothing was executed: no marker file exists, and every temp dir is gone.
      for (let n = 1; n <= 8; n++) expect(existsSync(MARKER(n)), MARKER(n)).toBe(false);
      expect(await readdir(workDir)).toEqual([]);
      const left = await admin.query("SELECT count(*)::int AS n FROM stacks");
      expect(left.rows[0]?.n).toBe(1); // sec-secret, launched last, still running
      const figures = {
        security: "hostile metadata",
        stacks: stacks.size,
        terraformCalls: calls.length,
        logBytes: logs.length,
      };
      console.log(JSON.stringify(figures));
      await recordFigures("security-metadata", figures);
    },
    TEST_TIMEOUT_MS,
  );

  it("S3 keys that would leave the temp dir are refused and nothing runs", async () => {
    partStarted("security-traversal");
    const workDir = join(dir, "work-s3");
    const recordFile = join(dir, "s3-calls.jsonl");
    await mkdir(workDir);
    process.env.FAKE_TF_RECORD = recordFile;
    const satisfier = createTaskSatisfier({
      sqs: aws.sqs,
      eventQueueUrl: aws.eventQueueUrl,
      s3: aws.s3,
      invoker: localLambdaInvoker(dir),
      terraformBin: FAKE_TF,
      workDir,
      deadlineMarginMs: 1_000,
    });
    const reps = Math.max(2, Math.round(SIZES.hostileTasks / 20));
    const messages: TaskMessage[] = [];
    for (let r = 0; r < reps; r++) {
      for (const [i, key] of ESCAPES(`tf/${r}/`).entries()) {
        const prefix = `tf/${r}-${i}/`;
        const evil = key.replace(`tf/${r}/`, prefix);
        await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: `${prefix}main.tf`, Body: "#" }));
        await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: evil, Body: `# ${RUN}` }));
        messages.push({
          stackId: `s3-${r}-${i}`,
          machine: "tf-env",
          state: "PROVISION",
          task: "infra",
          executor: "terraform",
          config: { action: "apply", source: { type: "s3", bucket: aws.bucket, key: prefix } },
          metadata: {},
          token: `tok-${r}-${i}`,
          attempt: 1,
        });
      }
    }
    const capture = captureOutput();
    try {
      for (let i = 0; i < messages.length; i += 10) {
        const res = await satisfier.handler({ Records: messages.slice(i, i + 10).map(record) }, context());
        expect(res).toEqual({ batchItemFailures: [] });
      }
    } finally {
      capture.restore();
    }
    const reports = (await drainQueue(aws.sqs, aws.eventQueueUrl)).map((m) => parseTaskReport(m.Body ?? ""));
    expect(reports).toHaveLength(messages.length);
    for (const r of reports) {
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.report.event).toBe("TASK_ERROR");
      expect(r.report.description).toMatch(
        /^refused S3 object key "tf\/[0-9-]+\/.*" under s3:\/\/rel-tf\/tf\/[0-9-]+\/: its path would land outside the working directory; nothing was run$/,
      );
    }
    expect(existsSync(recordFile)).toBe(false);
    expect(await readdir(workDir)).toEqual([]);
    for (const where of [dir, dirname(dir), tmpdir(), "/tmp"]) {
      const names = await readdir(where);
      expect(names.filter((n) => n.includes(RUN) && !n.startsWith("stackseam-rel-sec-"))).toEqual([]);
    }
    console.log(JSON.stringify({ security: "S3 traversal", refused: reports.length }));
    await recordFigures("security-traversal", {
      security: "S3 traversal",
      refused: reports.length,
      escapeKinds: ESCAPES("x/").length,
    });
  });
});
