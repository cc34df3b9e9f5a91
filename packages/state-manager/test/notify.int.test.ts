// Notifications after the decision: the real State Manager and tick over Postgres, a local HTTP
// receiver for webhooks, fauxqs for SNS (SNS → SQS subscription), aws-sdk-client-mock for
// EventBridge. Time moves through the injected clock, never by waiting.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Logger } from "@aws-lambda-powertools/logger";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { Deps } from "@stackseam/core";
import {
  createStateManager,
  createTick,
  localMachineSource,
  type MachineSource,
  openDatabase,
} from "@stackseam/state-manager";
import { mockClient } from "aws-sdk-client-mock";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { captureOutput } from "../../../test/reliability/support/capture.js";
import { startTestAws, TEST_CREDENTIALS, TEST_REGION, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { createNotifier, type NotifierOptions } from "../src/notify/notifier.js";
import { deliver, event, mustGetStack, silentLogger, sqsRecord } from "./helpers.js";

const MINUTE = 60_000;
// What must never show in a log line or in last_error: the signing secret, the webhook URL's path
// token and its query token.
const SECRET = "whsec-7f3a9c1e5b2d4680";
const PATH_TOKEN = "XOXB-path-token-51d2e8";
const QUERY_TOKEN = "qtok-93ab71c0ffee";

type Behaviour = "ok" | "flaky" | "bad" | "always500" | "hang";

interface Received {
  route: Behaviour;
  /** The payload's stackId, or the stack a Slack text names. */
  stackId: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
  /** The stack's state as another connection saw it when the request arrived. */
  stateAtArrival: string | null;
}

/** A webhook receiver; the first path segment says how it answers. */
async function startReceiver(databaseUrl: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  // pool.end() can resolve before a connection's backend has gone; the database's forced drop then
  // ends that backend, and an error on a pool with no listener would be thrown at the test run.
  pool.on("error", () => {});
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const route = (req.url ?? "/").split("/")[1] as Behaviour;
      const parsed = JSON.parse(body) as { stackId?: string; text?: string };
      const stackId = parsed.stackId ?? /^\[stackseam\] ([^\s:]+)/.exec(parsed.text ?? "")?.[1];
      const { rows } = await pool.query<{ state: string }>("SELECT state FROM stacks WHERE id = $1", [
        stackId ?? "",
      ]);
      // "flaky" fails the first request of each stack.
      const seen = received.filter((r) => r.route === route && r.stackId === stackId).length;
      received.push({ route, stackId, headers: req.headers, body, stateAtArrival: rows[0]?.state ?? null });
      if (route === "hang") {
        hanging.push(res);
        return;
      }
      const status =
        route === "ok" ? 200 : route === "bad" ? 400 : route === "always500" ? 500 : seen === 0 ? 500 : 204;
      res.writeHead(status).end(status >= 400 ? "nope" : "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    received,
    url: (route: Behaviour) => `${base}/${route}/hooks/${PATH_TOKEN}?token=${QUERY_TOKEN}`,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

/** A port nothing listens on (a server's, closed again). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A machine that notifies one target when a stack enters PROVISION (and on refused events). */
function machineYaml(target: string): string {
  return `version: 1
events: [LAUNCH, POKE, DESTROY]
notifications:
  - name: hook
    on: [state-entered, event-refused]
    states: [PROVISION]
${target
  .trim()
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      POKE: [{ action: no-op }]
      DESTROY: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
tasks:
  apply:
    executor: lambda
    config: { name: apply }
`;
}

/** A clock the test sets; the State Manager, the tick and the notifier read it. */
function testClock(start: number) {
  let now = start;
  let n = 0;
  const deps: Deps = {
    now: () => new Date(now),
    newToken: () => `tok-${++n}`,
    random: () => 0.5,
  };
  return { deps, advance: (ms: number) => (now += ms) };
}

/** The receiver's check, as docs/spec-reference.md gives it to users (extracted and run as is). */
type Verify = (body: string, header: unknown, secret: string, nowSeconds?: number) => boolean;
async function docsVerifier(dir: string): Promise<Verify> {
  const doc = await readFile(new URL("../../../docs/spec-reference.md", import.meta.url), "utf8");
  const at = doc.indexOf("<!-- verify-signature sample");
  expect(at, "the verify-signature sample in docs/spec-reference.md").toBeGreaterThan(0);
  const code = /```js\n([\s\S]*?)```/.exec(doc.slice(at))?.[1] ?? "";
  const file = join(dir, "verify-sample.mjs");
  await writeFile(file, code);
  return ((await import(pathToFileURL(file).href)) as { verifyStackseam: Verify }).verifyStackseam;
}

interface Row {
  id: string;
  stack_id: string;
  kind: string;
  attempts: number;
  sent_at: Date | null;
  failed_at: Date | null;
  next_attempt_at: Date;
  last_error: string | null;
}

describe("notifications: delivered after the transition committed", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dir: string;
  let machines: MachineSource;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let sns: SNSClient;
  let snsInbox: string;
  let verify: Verify;
  const eventBridge = mockClient(EventBridgeClient);
  const clock = testClock(Date.now());
  const open: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    receiver = await startReceiver(database.url);
    dir = await mkdtemp(join(tmpdir(), "stackseam-notify-"));
    verify = await docsVerifier(dir);
    sns = new SNSClient({ endpoint: aws.endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS });
    const topic = await sns.send(new CreateTopicCommand({ Name: "stackseam-notes" }));
    const queue = await aws.sqs.send(new CreateQueueCommand({ QueueName: "notes-inbox" }));
    snsInbox = queue.QueueUrl ?? "";
    const attrs = await aws.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: snsInbox, AttributeNames: ["QueueArn"] }),
    );
    await sns.send(
      new SubscribeCommand({
        TopicArn: topic.TopicArn,
        Protocol: "sqs",
        Endpoint: attrs.Attributes?.QueueArn,
      }),
    );
    const hook = (route: Behaviour, extra = "") =>
      `webhook:\n  url: "${receiver.url(route)}"\n  secret: { env: HOOK_SECRET }${extra}`;
    const specs: Record<string, string> = {
      "hook-ok": hook("ok"),
      "hook-flaky": hook("flaky"),
      "hook-bad": hook("bad"),
      "hook-down": hook("always500"),
      "hook-hang": hook("hang"),
      "hook-slack": hook("ok", "\n  format: slack"),
      "hook-closed": `webhook:\n  url: "http://127.0.0.1:${await closedPort()}/ok/hooks/${PATH_TOKEN}?token=${QUERY_TOKEN}"`,
      "sns-note": `sns: { topicArn: "${topic.TopicArn}" }`,
      "eb-note": "eventbridge: { bus: stackseam-bus }",
    };
    for (const [name, target] of Object.entries(specs))
      await writeFile(join(dir, `${name}.yml`), machineYaml(target));
    machines = localMachineSource({ dir });
  });
  afterEach(() => {
    eventBridge.reset();
  });
  afterAll(async () => {
    for (const o of open) await o.close();
    eventBridge.restore();
    sns?.destroy();
    await receiver?.close();
    await aws?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A State Manager container: its own pool, notifier, State Manager and tick. */
  function container(notify: Partial<NotifierOptions> = {}, logger = silentLogger()) {
    const db = openDatabase(database.url, { max: 2, applicationName: "stackseam-test" });
    const notifier = createNotifier({
      db,
      logger,
      deps: clock.deps,
      env: { HOOK_SECRET: SECRET },
      sns,
      eventBridge: new EventBridgeClient({ region: TEST_REGION, credentials: TEST_CREDENTIALS }),
      // Generous, so that a loaded machine never turns an answer into a timeout; the tests of a
      // target that hangs set short ones.
      requestTimeoutMs: 10_000,
      batchBudgetMs: 15_000,
      ...notify,
    });
    const sm = createStateManager({
      db,
      sqs: aws.sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines,
      deps: clock.deps,
      logger,
      notifier,
    });
    open.push({
      async close() {
        await sm.close();
        await db.destroy();
      },
    });
    const tick = createTick({
      db,
      sqs: aws.sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines,
      deps: clock.deps,
      logger,
      notifier,
    });
    return { sm, db, tick };
  }

  async function rowsOf(stackId: string): Promise<Row[]> {
    const c = new pg.Client({ connectionString: database.url });
    await c.connect();
    try {
      const { rows } = await c.query<Row>(
        "SELECT id::text, stack_id, kind, attempts, sent_at, failed_at, next_attempt_at, last_error FROM notifications WHERE stack_id = $1 ORDER BY id",
        [stackId],
      );
      return rows;
    } finally {
      await c.end();
    }
  }

  const requestsFor = (stackId: string) => receiver.received.filter((r) => r.stackId === stackId);

  async function lastErrors(): Promise<string[]> {
    const c = new pg.Client({ connectionString: database.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ last_error: string }>(
        "SELECT last_error FROM notifications WHERE last_error IS NOT NULL",
      );
      return rows.map((r) => r.last_error);
    } finally {
      await c.end();
    }
  }

  it("a webhook gets each notification once, signed, under SQS redelivery and two containers", async () => {
    const a = container();
    const b = container();
    const launch = sqsRecord(event("n-once", "LAUNCH", { machine: "hook-ok" }));
    await deliver(a.sm, launch);
    // The same message again (SQS redelivery), then in both containers at once.
    await deliver(a.sm, { ...launch });
    await Promise.all([deliver(a.sm, { ...launch }), deliver(b.sm, { ...launch })]);
    const twice = sqsRecord(event("n-twice", "LAUNCH", { machine: "hook-ok" }));
    await Promise.all([deliver(a.sm, twice), deliver(b.sm, { ...twice })]);
    await a.tick.run();
    await b.tick.run();

    for (const [stackId, record] of [
      ["n-once", launch],
      ["n-twice", twice],
    ] as const) {
      const got = requestsFor(stackId);
      expect(got).toHaveLength(1);
      const req = got[0]!;
      // The transition was visible to another connection before the request left.
      expect(req.stateAtArrival).toBe("PROVISION");
      expect(req.headers["content-type"]).toBe("application/json");
      expect(verify(req.body, req.headers["stackseam-signature"], SECRET)).toBe(true);
      // The docs' check refuses a replay older than five minutes, and another body.
      expect(verify(req.body, req.headers["stackseam-signature"], SECRET, Date.now() / 1000 + 301)).toBe(
        false,
      );
      expect(verify(`${req.body} `, req.headers["stackseam-signature"], SECRET)).toBe(false);
      const body = JSON.parse(req.body) as Record<string, unknown>;
      const [row] = await rowsOf(stackId);
      expect(req.headers["stackseam-notification-id"]).toBe(row?.id);
      expect(body).toMatchObject({
        id: row?.id,
        attempt: 1,
        kind: "state-entered",
        stackId,
        machine: "hook-ok",
        state: "PROVISION",
        from: null,
        to: "PROVISION",
        event: { name: "LAUNCH", key: record.messageId },
        summary: `${stackId} entered PROVISION`,
      });
      expect(row).toMatchObject({ attempts: 1, failed_at: null, last_error: null });
      expect(row?.sent_at).not.toBeNull();
    }
  });

  it("what a batch did not send (a container that stopped, a redelivery) the tick sends, once", async () => {
    const stopped = container({ batchBudgetMs: 0 });
    const other = container();
    const launch = sqsRecord(event("n-left", "LAUNCH", { machine: "hook-ok" }));
    await deliver(stopped.sm, launch);
    expect(requestsFor("n-left")).toHaveLength(0);
    // The redelivery is a duplicate: it writes nothing, and its batch has nothing of its own to send.
    await deliver(other.sm, { ...launch });
    expect(requestsFor("n-left")).toHaveLength(0);
    await Promise.all([stopped.tick.run(), other.tick.run()]);
    expect(requestsFor("n-left")).toHaveLength(1);
    await other.tick.run();
    expect(requestsFor("n-left")).toHaveLength(1);
  });

  it("a 500 is retried by the tick when its time comes; the retry keeps the id", async () => {
    const c = container();
    await deliver(c.sm, sqsRecord(event("n-flaky", "LAUNCH", { machine: "hook-flaky" })));
    expect(requestsFor("n-flaky")).toHaveLength(1);
    let [row] = await rowsOf("n-flaky");
    expect(row).toMatchObject({
      attempts: 1,
      sent_at: null,
      failed_at: null,
      last_error: "HTTP 500 Internal Server Error",
    });
    // The first retry is 30 s away at most (docs/spec-reference.md#delivery-and-retries).
    const wait = row!.next_attempt_at.getTime() - clock.deps.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(15_000);
    expect(wait).toBeLessThanOrEqual(30_000);
    await c.tick.run();
    expect(requestsFor("n-flaky")).toHaveLength(1);
    clock.advance(MINUTE);
    await c.tick.run();
    const got = requestsFor("n-flaky");
    expect(got).toHaveLength(2);
    const [first, second] = got.map((r) => JSON.parse(r.body) as { id: string; attempt: number });
    expect(second?.id).toBe(first?.id);
    expect([first?.attempt, second?.attempt]).toEqual([1, 2]);
    expect(verify(got[1]!.body, got[1]!.headers["stackseam-signature"], SECRET)).toBe(true);
    [row] = await rowsOf("n-flaky");
    expect(row).toMatchObject({ attempts: 2, failed_at: null });
    expect(row?.sent_at).not.toBeNull();
    clock.advance(60 * MINUTE);
    await c.tick.run();
    expect(requestsFor("n-flaky")).toHaveLength(2);
  });

  it("a 400 is not retried", async () => {
    const c = container();
    await deliver(c.sm, sqsRecord(event("n-bad", "LAUNCH", { machine: "hook-bad" })));
    const [row] = await rowsOf("n-bad");
    expect(row).toMatchObject({
      attempts: 1,
      sent_at: null,
      last_error: "HTTP 400 Bad Request: the receiver refused the notification",
    });
    expect(row?.failed_at).not.toBeNull();
    for (let i = 0; i < 3; i++) {
      clock.advance(60 * MINUTE);
      await c.tick.run();
    }
    expect(requestsFor("n-bad")).toHaveLength(1);
    expect(await mustGetStack(c.db, "n-bad")).toMatchObject({ state: "PROVISION" });
  });

  it("a target that keeps failing is given up after the last attempt", async () => {
    const c = container({ maxAttempts: 3 });
    await deliver(c.sm, sqsRecord(event("n-down", "LAUNCH", { machine: "hook-down" })));
    for (let i = 0; i < 4; i++) {
      // Past the longest delay (1 h), so every tick finds it due.
      clock.advance(61 * MINUTE);
      await c.tick.run();
    }
    expect(requestsFor("n-down")).toHaveLength(3);
    const [row] = await rowsOf("n-down");
    expect(row).toMatchObject({
      attempts: 3,
      sent_at: null,
      last_error: "HTTP 500 Internal Server Error (given up after 3 attempts)",
    });
    expect(row?.failed_at).not.toBeNull();
  });

  it("a connection refused is retried, and says so without the URL", async () => {
    const c = container();
    await deliver(c.sm, sqsRecord(event("n-closed", "LAUNCH", { machine: "hook-closed" })));
    const [row] = await rowsOf("n-closed");
    expect(row).toMatchObject({
      attempts: 1,
      sent_at: null,
      failed_at: null,
      last_error: "network error (ECONNREFUSED)",
    });
  });

  it("slack format: a readable text line", async () => {
    const c = container();
    await deliver(c.sm, sqsRecord(event("n-slack", "LAUNCH", { machine: "hook-slack" })));
    const [req] = requestsFor("n-slack");
    expect(JSON.parse(req?.body ?? "")).toEqual({ text: "[stackseam] n-slack entered PROVISION" });
    expect(verify(req?.body ?? "", req?.headers["stackseam-signature"], SECRET)).toBe(true);
    // A refused event from outside notifies too (POKE is not handled in PROVISION).
    await deliver(c.sm, sqsRecord(event("n-slack", "POKE")));
    const got = requestsFor("n-slack");
    expect(got).toHaveLength(2);
    expect((JSON.parse(got[1]?.body ?? "") as { text: string }).text).toMatch(
      /^\[stackseam\] n-slack: POKE refused: /,
    );
  });

  it("SNS: published to the topic and delivered to its SQS subscription (fauxqs)", async () => {
    const c = container();
    await deliver(c.sm, sqsRecord(event("n-sns", "LAUNCH", { machine: "sns-note" })));
    const [row] = await rowsOf("n-sns");
    expect(row?.sent_at).not.toBeNull();
    const got = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: snsInbox, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(got.Messages).toHaveLength(1);
    const envelope = JSON.parse(got.Messages![0]!.Body ?? "{}") as {
      Type: string;
      Subject?: string;
      Message: string;
      MessageAttributes?: Record<string, { Type: string; Value: string }>;
    };
    expect(envelope.Type).toBe("Notification");
    expect(envelope.Subject).toBe("[stackseam] n-sns entered PROVISION");
    expect(JSON.parse(envelope.Message)).toMatchObject({
      id: row?.id,
      attempt: 1,
      kind: "state-entered",
      stackId: "n-sns",
      machine: "sns-note",
      to: "PROVISION",
    });
    expect(envelope.MessageAttributes?.kind).toEqual({ Type: "String", Value: "state-entered" });
    expect(envelope.MessageAttributes?.stackId).toEqual({ Type: "String", Value: "n-sns" });
  });

  it("EventBridge: one PutEvents entry; an entry it did not take is retried", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" }],
      })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] });
    const c = container();
    await deliver(c.sm, sqsRecord(event("n-eb", "LAUNCH", { machine: "eb-note" })));
    let [row] = await rowsOf("n-eb");
    expect(row).toMatchObject({
      attempts: 1,
      sent_at: null,
      failed_at: null,
      last_error: "PutEvents did not take the event: ThrottlingException: Rate exceeded",
    });
    clock.advance(MINUTE);
    await c.tick.run();
    [row] = await rowsOf("n-eb");
    expect(row?.sent_at).not.toBeNull();
    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(2);
    const entry = calls[1]!.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({
      EventBusName: "stackseam-bus",
      Source: "stackseam",
      DetailType: "Stackseam state-entered",
    });
    expect(JSON.parse(entry?.Detail ?? "{}")).toMatchObject({
      id: row?.id,
      attempt: 2,
      kind: "state-entered",
      stackId: "n-eb",
      to: "PROVISION",
    });
  });

  it("a target that hangs: the transition commits first, the batch returns, later batches leave it to the tick", async () => {
    const c = container({ requestTimeoutMs: 300, batchBudgetMs: 1_000 });
    const first = sqsRecord(event("n-hang-1", "LAUNCH", { machine: "hook-hang" }));
    const res = await c.sm.processRecords([first]);
    expect(res.batchItemFailures).toEqual([]);
    const [req] = requestsFor("n-hang-1");
    expect(req?.stateAtArrival).toBe("PROVISION");
    expect((await rowsOf("n-hang-1"))[0]).toMatchObject({
      attempts: 1,
      sent_at: null,
      failed_at: null,
      last_error: "no response within 300 ms",
    });
    // The next batches of this container do not wait for it again: the tick will.
    await deliver(c.sm, sqsRecord(event("n-hang-2", "LAUNCH", { machine: "hook-hang" })));
    await deliver(c.sm, sqsRecord(event("n-hang-3", "LAUNCH", { machine: "hook-hang" })));
    expect(requestsFor("n-hang-2")).toHaveLength(0);
    expect(requestsFor("n-hang-3")).toHaveLength(0);
    for (const id of ["n-hang-2", "n-hang-3"]) {
      expect((await rowsOf(id))[0]).toMatchObject({ attempts: 0, sent_at: null, failed_at: null });
      expect(await mustGetStack(c.db, id)).toMatchObject({ state: "PROVISION" });
    }
    await c.tick.run();
    expect(requestsFor("n-hang-2")).toHaveLength(1);
    expect(requestsFor("n-hang-3")).toHaveLength(1);
  });

  it("logs and last_error never show the secret or the webhook URL's tokens", async () => {
    const capture = captureOutput();
    try {
      const logger = new Logger({ serviceName: "stackseam-test", logLevel: "DEBUG" });
      const c = container({}, logger);
      const short = container({ requestTimeoutMs: 300, batchBudgetMs: 1_000 }, logger);
      for (const [id, machine] of [
        ["n-log-ok", "hook-ok"],
        ["n-log-flaky", "hook-flaky"],
        ["n-log-bad", "hook-bad"],
        ["n-log-closed", "hook-closed"],
        ["n-log-slack", "hook-slack"],
      ] as const) {
        await deliver(c.sm, sqsRecord(event(id, "LAUNCH", { machine })));
      }
      await deliver(short.sm, sqsRecord(event("n-log-hang", "LAUNCH", { machine: "hook-hang" })));
      clock.advance(MINUTE);
      // The short container's tick: earlier tests' rows for the target that hangs are due too.
      await short.tick.run();
    } finally {
      capture.restore();
    }
    const text = capture.text();
    const records = capture.records();
    const messages = records.map((r) => r.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        "notification sent",
        "notification not delivered; retried later",
        "notification given up",
      ]),
    );
    expect(records.find((r) => r.message === "notification sent")).toMatchObject({
      destination: `webhook ${receiver.base}`,
      target: "hook",
    });
    const stored = await lastErrors();
    expect(stored.length).toBeGreaterThan(0);
    for (const word of [SECRET, PATH_TOKEN, QUERY_TOKEN, "/hooks/"]) {
      expect(text).not.toContain(word);
      for (const e of stored) expect(e).not.toContain(word);
    }
  });
});
