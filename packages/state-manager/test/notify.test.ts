// The sender's pieces on their own: backoff, what logs may show, formats, how an AWS answer is
// classified, where signing secrets come from, and the environment that configures them. The
// expected values are the ones docs/spec-reference.md#notifications states.
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { NotificationBody } from "@stackseam/core";
import { ConfigError, loadConfig } from "@stackseam/state-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { retryDelayMs } from "../src/notify/backoff.js";
import { deliverEventBridge } from "../src/notify/eventbridge.js";
import { describeDestination } from "../src/notify/notifier.js";
import { fromSdkError } from "../src/notify/outcome.js";
import { notificationPayload, slackMessage } from "../src/notify/payload.js";
import { scrub, urlForLogs, urlSecrets } from "../src/notify/redact.js";
import { deliverSns, subjectOf } from "../src/notify/sns.js";
import { secretName, webhookSecrets } from "../src/notify/webhook-secrets.js";

const S = 1000;
const MIN = 60 * S;

const body: NotificationBody = {
  kind: "task-failed",
  stackId: "pr-7",
  machine: "qa-env",
  version: "6c0c2d1e9a3b4f57",
  state: "PROVISION",
  event: { name: "TASK_ERROR", key: "k-1" },
  at: "2026-11-30T16:00:00.000Z",
  summary: "pr-7: task apply failed (attempt 3): Error: <!channel> & <https://evil.example|click>",
  task: { name: "apply", attempt: 3, error: "Error: <!channel> & <https://evil.example|click>" },
};

describe("retry delays: 30 s doubling up to 1 h, with equal jitter", () => {
  it("lies between half the delay and all of it", () => {
    const full = [30 * S, 1 * MIN, 2 * MIN, 4 * MIN, 8 * MIN, 16 * MIN, 32 * MIN, 60 * MIN, 60 * MIN];
    const attempts = full.map((_, i) => i + 1);
    expect(attempts.map((n) => retryDelayMs(n, () => 1))).toEqual(full);
    expect(attempts.map((n) => retryDelayMs(n, () => 0))).toEqual(full.map((d) => d / 2));
    // Ten attempts (nine delays) span between about 1.5 and 3 hours.
    const longest = full.reduce((a, b) => a + b, 0);
    expect(longest / (60 * MIN)).toBeCloseTo(3.06, 2);
  });
});

describe("what logs and errors may show of a target", () => {
  const url = "https://bot:pw@hooks.slack.com:8443/services/T0001/B0002/XXXXsecretXXXX?token=qsecret1";

  it("a webhook: scheme, host and port only", () => {
    expect(urlForLogs(url)).toBe("https://hooks.slack.com:8443");
    expect(describeDestination({ webhook: { url } })).toBe("webhook https://hooks.slack.com:8443");
    expect(describeDestination({ sns: { topicArn: "arn:aws:sns:eu-west-1:1:t" } })).toBe(
      "sns arn:aws:sns:eu-west-1:1:t",
    );
    expect(describeDestination({ eventbridge: { bus: "default" } })).toBe("eventbridge default");
  });

  it("scrub removes the URL, its path, query and tokens from any text", () => {
    const text = `connect failed for ${url} (GET /services/T0001/B0002/XXXXsecretXXXX?token=qsecret1), token=qsecret1`;
    const out = scrub(text, urlSecrets(url));
    for (const word of ["XXXXsecretXXXX", "qsecret1", "/services/", ":pw@"]) expect(out).not.toContain(word);
    expect(scrub("signed with hunter2hunter2", ["hunter2hunter2"])).toBe("signed with [redacted]");
  });
});

describe("formats", () => {
  it("the payload starts with id and attempt, then the body", () => {
    const p = notificationPayload("42", 2, body);
    expect(Object.keys(p).slice(0, 5)).toEqual(["id", "attempt", "kind", "stackId", "machine"]);
    expect(p).toEqual({ id: "42", attempt: 2, ...body });
  });

  it("slack: one escaped line, so error text cannot mention @channel or add a link", () => {
    expect(slackMessage(body)).toEqual({
      text: "[stackseam] pr-7: task apply failed (attempt 3): Error: &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;",
    });
  });

  it("an SNS subject is printable ASCII, at most 100 characters", () => {
    expect(subjectOf("[stackseam] pr-7 entered RÜN\n")).toBe("[stackseam] pr-7 entered R?N?".trim());
    const long = subjectOf(`[stackseam] ${"x".repeat(200)}`);
    expect(long).toHaveLength(100);
    expect(long.endsWith("...")).toBe(true);
  });
});

describe("AWS answers: throttling, 5xx and no answer are retried; other 4xx are not", () => {
  const err = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${name} happened`), {
      name,
      ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}),
      ...extra,
    });

  it.each([
    ["ThrottlingException", 400, "retry"],
    ["Throttled", 400, "retry"],
    ["KMSThrottlingException", 400, "retry"],
    ["InternalErrorException", 500, "retry"],
    ["ServiceUnavailable", 503, "retry"],
    ["TooManyRequests", 429, "retry"],
    ["AuthorizationErrorException", 403, "failed"],
    ["AccessDeniedException", 400, "failed"],
    ["NotFoundException", 404, "failed"],
    ["InvalidParameterException", 400, "failed"],
  ] as const)("%s (HTTP %i): %s", (name, status, kind) => {
    const d = fromSdkError(err(name, status), 2000, false);
    expect(d.kind).toBe(kind);
    if (d.kind !== "sent") expect(d.error).toBe(`${name} (HTTP ${status}): ${name} happened`);
  });

  it("no HTTP answer (a network error, a timeout) is retried", () => {
    expect(fromSdkError(new TypeError("socket hang up"), 2000, false)).toEqual({
      kind: "retry",
      error: "TypeError: socket hang up",
    });
    expect(fromSdkError(err("AbortError"), 2000, true)).toEqual({
      kind: "retry",
      error: "no response within 2000 ms",
    });
  });
});

describe("SNS and EventBridge calls (aws-sdk-client-mock)", () => {
  const snsMock = mockClient(SNSClient);
  const ebMock = mockClient(EventBridgeClient);
  afterEach(() => {
    snsMock.reset();
    ebMock.reset();
  });
  const payload = notificationPayload("7", 1, body);

  it("SNS: attributes for filter policies; a FIFO topic gets a group and a deduplication id", async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: "m-1" });
    const client = new SNSClient({ region: "eu-west-1" });
    const topicArn = "arn:aws:sns:eu-west-1:123456789012:alerts.fifo";
    expect(await deliverSns(client, { topicArn, payload, timeoutMs: 2000 })).toEqual({ kind: "sent" });
    const input = snsMock.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      TopicArn: topicArn,
      MessageGroupId: "pr-7",
      MessageDeduplicationId: "7",
      MessageAttributes: {
        kind: { DataType: "String", StringValue: "task-failed" },
        stackId: { DataType: "String", StringValue: "pr-7" },
        machine: { DataType: "String", StringValue: "qa-env" },
      },
    });
    expect(JSON.parse(input?.Message ?? "")).toEqual(payload);
  });

  it("SNS: a topic that does not exist is given up", async () => {
    snsMock.on(PublishCommand).rejects(
      Object.assign(new Error("Topic does not exist"), {
        name: "NotFoundException",
        $metadata: { httpStatusCode: 404 },
      }),
    );
    const d = await deliverSns(new SNSClient({ region: "eu-west-1" }), {
      topicArn: "arn:aws:sns:eu-west-1:123456789012:gone",
      payload,
      timeoutMs: 2000,
    });
    expect(d).toEqual({ kind: "failed", error: "NotFoundException (HTTP 404): Topic does not exist" });
  });

  it.each([
    ["InternalFailure", "retry"],
    ["ThrottlingException", "retry"],
    ["MalformedDetail", "failed"],
    ["NotAuthorizedForSourceException", "failed"],
  ] as const)("EventBridge: an entry refused with %s: %s", async (code, kind) => {
    ebMock.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: code }] });
    const d = await deliverEventBridge(new EventBridgeClient({ region: "eu-west-1" }), {
      target: { bus: "default", source: "acme.stackseam", detailType: "Stack event" },
      payload,
      timeoutMs: 2000,
    });
    expect(d).toEqual({ kind, error: `PutEvents did not take the event: ${code}` });
    expect(ebMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries).toEqual([
      {
        EventBusName: "default",
        Source: "acme.stackseam",
        DetailType: "Stack event",
        Detail: JSON.stringify(payload),
        Time: new Date("2026-11-30T16:00:00.000Z"),
      },
    ]);
  });
});

describe("signing secrets", () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());
  const DB = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stackseam/db-AbCdEf";
  const secrets = () =>
    webhookSecrets({
      env: {
        HOOK_SECRET: "from-env",
        AWS_SECRET_ACCESS_KEY: "aws",
        DATABASE_URL: "postgres://x",
        PGPASSWORD: "pg",
      },
      secretsManager: () => new SecretsManagerClient({ region: "eu-west-1" }),
      forbiddenSecretIds: [DB],
    });

  it("reads an environment variable of its own; refuses the State Manager's settings and credentials", async () => {
    const s = secrets();
    expect(await s.resolve({ env: "HOOK_SECRET" })).toEqual({ ok: true, value: "from-env" });
    expect(await s.resolve({ env: "MISSING_SECRET" })).toEqual({
      ok: false,
      error: "webhook secret env MISSING_SECRET is not set on the State Manager",
      permanent: false,
    });
    for (const env of [
      "AWS_SECRET_ACCESS_KEY",
      "DATABASE_URL",
      "PGPASSWORD",
      "POSTGRES_CONNECTION_SECRET",
      "_HANDLER",
    ]) {
      const found = await s.resolve({ env });
      expect(found).toMatchObject({ ok: false, permanent: true });
      expect(JSON.stringify(found)).not.toMatch(/aws"|postgres:\/\/x|"pg"/);
    }
  });

  it("reads a Secrets Manager secret once per container; a failed read is tried again", async () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hooks/ci-Q1w2E3";
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error("denied"), { name: "AccessDeniedException" }))
      .resolves({ SecretString: "s3cr3t-value" });
    const s = secrets();
    expect(await s.resolve({ secretArn: arn })).toEqual({
      ok: false,
      error: `webhook secret ${arn} could not be read (AccessDeniedException)`,
      permanent: false,
    });
    expect(await s.resolve({ secretArn: arn })).toEqual({ ok: true, value: "s3cr3t-value" });
    expect(await s.resolve({ secretArn: arn })).toEqual({ ok: true, value: "s3cr3t-value" });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it("never signs with the database secret, however it is named", async () => {
    const s = secrets();
    for (const id of [DB, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stackseam/db"]) {
      expect(await s.resolve({ secretArn: id })).toMatchObject({ ok: false, permanent: true });
    }
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(secretName(DB)).toBe("stackseam/db");
    expect(secretName("stackseam/db")).toBe("stackseam/db");
  });
});

describe("configuration (docs/configuration.md)", () => {
  const base = {
    SQS_TASK_QUEUE_URL: "http://sqs.us-east-1.localhost:4566/000000000000/stackseam-tasks",
    MACHINE_LOCATOR: "LOCAL_FS",
    MACHINE_SPEC_DIR: "/specs",
    DATABASE_URL: "postgres://h/db",
  };

  it("reads the notification settings and the SNS and EventBridge endpoints", () => {
    const config = loadConfig({
      ...base,
      NOTIFICATION_TIMEOUT_MS: "1500",
      NOTIFICATION_BATCH_BUDGET_MS: "0",
      NOTIFICATION_MAX_ATTEMPTS: "5",
      AWS_ENDPOINT_URL_SNS: "http://127.0.0.1:4566",
      AWS_ENDPOINT_URL_EVENTBRIDGE: "http://127.0.0.1:4010",
    });
    expect(config.notifications).toEqual({ requestTimeoutMs: 1500, batchBudgetMs: 0, maxAttempts: 5 });
    expect(config.endpoints).toEqual({ sns: "http://127.0.0.1:4566", eventBridge: "http://127.0.0.1:4010" });
  });

  it("names each value out of range", () => {
    try {
      loadConfig({ ...base, NOTIFICATION_TIMEOUT_MS: "50", NOTIFICATION_MAX_ATTEMPTS: "zero" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([
        'NOTIFICATION_TIMEOUT_MS must be a whole number from 100 to 30000, got "50"',
        'NOTIFICATION_MAX_ATTEMPTS must be a whole number from 1 to 100, got "zero"',
      ]);
    }
  });
});
