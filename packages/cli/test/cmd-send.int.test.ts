// `stackseam send` in-process (docs/cli.md "send"): its usage errors and refusals (exit 2, nothing
// sent), --dry-run and --json output, a real send to the queue and a queue that is not there
// (exit 1), and the spec check when the machine comes from the database or the specs cannot be read.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as send } from "../src/commands/send.js";
import { eventPublisher } from "../src/publish.js";
import { runInProcess } from "./support/in-process.js";

const SPEC = `version: 1
events: [LAUNCH, DESTROY]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: RUN }] } }
  RUN: { on: { DESTROY: [{ action: advance, state: GONE }] } }
  GONE: { terminal: true }
`;

describe("stackseam send: usage, output, sending, checks", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let aws: TestAws;
  let work: string;
  let specs: string;
  let empty: string;
  const cli = (...args: string[]) => runInProcess(send, args);

  beforeAll(async () => {
    [db, aws] = await Promise.all([createTestDatabase(), startTestAws()]);
    work = await mkdtemp(join(tmpdir(), "stackseam-cmd-send-"));
    specs = join(work, "specs");
    empty = join(work, "empty");
    await mkdir(specs);
    await mkdir(empty);
    await writeFile(join(specs, "shop.yml"), SPEC);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      "INSERT INTO stacks (id, machine, version, state, entry) VALUES ('shop-1', 'shop', NULL, 'RUN', 1)",
    );
    await client.end();
    // A fresh terminal: no dev, no queue, no database, no specs unless a case sets them.
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    for (const name of [
      "DATABASE_URL",
      "MACHINE_SPEC_DIR",
      "MACHINE_S3_BUCKET",
      "MACHINE_S3_KEY",
      "SQS_EVENT_QUEUE_URL",
      "SQS_TASK_QUEUE_URL",
    ])
      vi.stubEnv(name, undefined);
    for (const [k, v] of Object.entries(aws.env)) if (!k.startsWith("SQS_")) vi.stubEnv(k, v);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await aws?.stop();
    await db?.drop();
    if (work) await removeDir(work);
  });

  it("usage errors and refused messages exit 2 and say why", async () => {
    const cases: [string[], string][] = [
      [["only-a-stack"], "stackseam send: expected <stackId> <EVENT>"],
      [["a", "LAUNCH", "extra"], "stackseam send: expected <stackId> <EVENT>"],
      [["a", "LAUNCH", "--ttl", "3d"], "stackseam send: --ttl goes with EXTEND_TTL"],
      [["a", "TOUCH", "--meta", "=v"], "stackseam send: --meta =v: expected key=value or key:=json"],
      [
        ["a", "TOUCH", "--meta", "k:=nope"],
        "stackseam send: --meta k:=nope: nope is not JSON (use k=v for a plain string)",
      ],
      [
        ["a", "TOUCH", "--meta", "k:=[1]"],
        "stackseam send: --meta k:=[1]: metadata values are strings, numbers or booleans (flat, no objects or arrays), or null to remove the key",
      ],
      [
        ["a", "NEXT"],
        "stackseam send: NEXT is internal: the engine fires it when a state's tasks are satisfied",
      ],
      [
        ["a", "LAUNCH", "--wait", "--dry-run"],
        "stackseam send: --wait cannot follow a --dry-run: nothing is sent",
      ],
      [["a", "LAUNCH", "--state", "RUN"], "stackseam send: --state goes with --wait"],
      [
        ["a", "LAUNCH", "--machine", "shop", "--wait", "--no-check"],
        "stackseam send: --wait reads the database: pass --database-url, set DATABASE_URL, or start `stackseam dev`",
      ],
      [
        ["a", "LAUNCH", "--machine", "shop", "--no-check"],
        "stackseam send: no event queue: pass --queue-url, set SQS_EVENT_QUEUE_URL, or start `stackseam dev`",
      ],
    ];
    for (const [args, first] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.split("\n")[0], args.join(" ")).toBe(first);
      expect(r.stdout, args.join(" ")).toBe("");
    }
  });

  it("--dry-run --json prints the message with every field given, and sends nothing", async () => {
    const r = await cli(
      "build-1",
      "TASK_ERROR",
      "--task",
      "apply",
      "--token",
      "tok-1",
      "--description",
      "Error: boom",
      "--event-id",
      "err-1",
      "--meta",
      "replicas:=3",
      "--dry-run",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      message: {
        stackId: "build-1",
        event: "TASK_ERROR",
        eventId: "err-1",
        task: "apply",
        token: "tok-1",
        description: "Error: boom",
        metadata: { replicas: 3 },
      },
    });
  });

  it("--json sends and prints the message id with the message; the queue gets the message", async () => {
    const r = await cli(
      "shop-9",
      "LAUNCH",
      "--machine",
      "shop",
      "--queue-url",
      aws.eventQueueUrl,
      "--no-check",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { messageId: string; message: unknown };
    expect(out.message).toEqual({ stackId: "shop-9", event: "LAUNCH", machine: "shop" });
    const got = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.eventQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const ours = got.Messages?.find((m) => m.MessageId === out.messageId);
    expect(JSON.parse(ours?.Body ?? "null")).toEqual(out.message);
  });

  it("a queue that does not exist: could not send (exit 1)", async () => {
    const queue = `${aws.endpoint}/000000000000/no-such-queue`;
    const r = await cli("shop-9", "LAUNCH", "--machine", "shop", "--queue-url", queue, "--no-check");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^stackseam send: could not send to ${queue}: .+`));
  });

  it("an empty specs folder knows no machine", async () => {
    const r = await cli("a", "LAUNCH", "--machine", "shop", "--specs", empty, "--dry-run");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `stackseam send: unknown machine "shop" (machines: none)\n  (checked against ${empty}; --no-check sends it anyway)\n`,
    );
  });

  it("without --machine, the stack's machine comes from the database; a new stack and no database are not checked", async () => {
    vi.stubEnv("DATABASE_URL", db.url);
    try {
      const refused = await cli("shop-1", "FREEZE", "--specs", specs, "--dry-run");
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /^stackseam send: machine shop does not declare event FREEZE.*\(events: LAUNCH, DESTROY\)\n/,
      );
      const ok = await cli("shop-1", "DESTROY", "--specs", specs, "--dry-run");
      expect(ok).toMatchObject({ code: 0, stdout: '{"stackId":"shop-1","event":"DESTROY"}\n', stderr: "" });
      const fresh = await cli("nobody-yet", "FREEZE", "--specs", specs, "--dry-run");
      expect(fresh).toMatchObject({ code: 0, stderr: "" });
    } finally {
      vi.stubEnv("DATABASE_URL", undefined);
    }
    const noDb = await cli("shop-1", "FREEZE", "--specs", specs, "--dry-run");
    expect(noDb).toMatchObject({ code: 0, stderr: "" });
  });

  it("a database that cannot be read leaves the event unchecked, with a note", async () => {
    vi.stubEnv("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none");
    try {
      const r = await cli("shop-1", "FREEZE", "--specs", specs, "--dry-run");
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^stackseam send: not checked: could not read stack shop-1: .+\n$/);
      expect(r.stdout).toBe('{"stackId":"shop-1","event":"FREEZE"}\n');
    } finally {
      vi.stubEnv("DATABASE_URL", undefined);
    }
  });

  it("a bucket that cannot be read never blocks; a --specs folder that cannot be read does", async () => {
    vi.stubEnv("MACHINE_S3_BUCKET", "no-such-bucket");
    try {
      const r = await cli("a", "LAUNCH", "--machine", "shop", "--dry-run");
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /^stackseam send: not checked: could not read the specs in .*no-such-bucket.*: .+\n$/,
      );
    } finally {
      vi.stubEnv("MACHINE_S3_BUCKET", undefined);
    }
    const missing = join(work, "missing");
    const r = await cli("a", "LAUNCH", "--machine", "shop", "--specs", missing, "--dry-run");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^stackseam send: could not read the specs in ${missing}: .+\\n  \\(checked against ${missing}; `,
      ),
    );
  });

  it("--wait --json with nobody applying the event: the wait times out (exit 5) and the JSON says so", async () => {
    const r = await cli(
      "shop-1",
      "DESTROY",
      "--event-id",
      "destroy-shop-1",
      "--queue-url",
      aws.eventQueueUrl,
      "--no-check",
      "--wait",
      "--timeout",
      "1",
      "--database-url",
      db.url,
      "--json",
    );
    expect(r.code, r.stderr).toBe(5);
    const out = JSON.parse(r.stdout) as {
      messageId: string;
      message: unknown;
      wait: { result: string; exitCode: number; stackId: string };
    };
    expect(out.message).toEqual({ stackId: "shop-1", event: "DESTROY", eventId: "destroy-shop-1" });
    expect(out.messageId).toMatch(/\S/);
    expect(out.wait).toMatchObject({ result: "timeout", exitCode: 5, stackId: "shop-1" });
  });

  it("the dashboard's publisher: none without a queue, refuses what send refuses, sends the rest", async () => {
    expect(eventPublisher({ source: "flags/env" })).toBeNull();
    const publisher = eventPublisher({
      source: "flags/env",
      eventQueueUrl: aws.eventQueueUrl,
      endpoint: aws.endpoint,
      region: aws.region,
    });
    expect(publisher).not.toBeNull();
    try {
      expect(await publisher!.publish({ stackId: "shop-1", event: "NEXT" })).toEqual({
        ok: false,
        reason: "NEXT is internal: the engine fires it when a state's tasks are satisfied",
      });
      const sent = await publisher!.publish({ stackId: "shop-1", event: "TOUCH" });
      expect(sent.ok).toBe(true);
    } finally {
      publisher!.close();
    }
    const gone = eventPublisher({
      source: "flags/env",
      eventQueueUrl: `${aws.endpoint}/000000000000/no-such-queue`,
      endpoint: aws.endpoint,
      region: aws.region,
    })!;
    try {
      const r = await gone.publish({ stackId: "shop-1", event: "TOUCH" });
      expect(r.ok).toBe(false);
      expect(r.ok ? "" : r.reason).toMatch(/^could not send to .*no-such-queue: /);
    } finally {
      gone.close();
    }
  });
});
