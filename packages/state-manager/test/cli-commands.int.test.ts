import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { parseEventMessage } from "@stackseam/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as migrate } from "../../cli/src/commands/migrate.js";
import { parseMeta, run as send } from "../../cli/src/commands/send.js";
import { run as specs } from "../../cli/src/commands/specs.js";
import { run as stacks } from "../../cli/src/commands/stacks.js";
import {
  completed,
  deliver,
  drain,
  event,
  FIXTURES,
  manager,
  mustGetStack,
  sqsRecord,
  tokenOf,
} from "./helpers.js";

/** Runs a command, capturing what it prints. */
async function cli(command: (args: string[]) => Promise<number>, ...args: string[]) {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  try {
    const code = await command(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe("CLI: migrate, send, stacks, specs", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dataDir: string;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
    aws = await startTestAws();
    dataDir = await mkdtemp(join(tmpdir(), "stackseam-cli-"));
  });
  afterAll(async () => {
    await aws?.stop();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });
  afterEach(() => vi.unstubAllEnvs());

  /** No running `stackseam dev` may leak into these tests, nor the caller's environment. */
  function isolate(vars: Record<string, string> = {}) {
    vi.stubEnv("STACKSEAM_DATA_DIR", dataDir);
    for (const name of [
      "DATABASE_URL",
      "SQS_EVENT_QUEUE_URL",
      "AWS_ENDPOINT_URL",
      "AWS_ENDPOINT_URL_SQS",
      "AWS_ENDPOINT_URL_S3",
      "MACHINE_S3_BUCKET",
      "MACHINE_S3_KEY",
    ]) {
      vi.stubEnv(name, undefined);
    }
    for (const [k, v] of Object.entries(vars)) vi.stubEnv(k, v);
  }

  it("migrate: applies the schema, then reports it up to date", async () => {
    isolate();
    expect((await cli(migrate, "--database-url", database.url)).out).toMatch(/applying 001_init\.sql/);
    const again = await cli(migrate, "--database-url", database.url);
    expect(again).toMatchObject({ code: 0 });
    expect(again.out).toMatch(/database is up to date/);
    expect((await cli(migrate)).code).toBe(2);
    expect((await cli(migrate, "--help")).out).toMatch(/Usage: stackseam migrate/);
  });

  it("send: validates, publishes to the queue and prints the message id", async () => {
    isolate(aws.env);
    const res = await cli(
      send,
      "feature-9",
      "LAUNCH",
      "--machine",
      "qa-env",
      "--meta",
      "apiImageTag=e724e90",
      "--meta",
      "replicas:=3",
      "--meta",
      "debug:=true",
      "--meta",
      "build=0123",
      "--event-id",
      "launch-feature-9",
    );
    expect(res).toMatchObject({ code: 0, err: "" });
    const [message] = await drain(aws.sqs, aws.eventQueueUrl);
    expect(res.out.trim()).toBe(message?.MessageId);
    const parsed = parseEventMessage(message?.Body ?? "", "x");
    expect(parsed.ok && parsed.event).toMatchObject({
      stackId: "feature-9",
      name: "LAUNCH",
      machine: "qa-env",
      key: "launch-feature-9",
      metadata: { apiImageTag: "e724e90", replicas: 3, debug: true, build: "0123" },
    });
  });

  it("send: refuses what the State Manager would refuse, before sending anything", async () => {
    isolate(aws.env);
    const cases: [string[], RegExp][] = [
      [["bad id!", "LAUNCH"], /invalid event message.*stackId/],
      [["s1", "launch"], /invalid event message/],
      [["s1", "NEXT"], /NEXT is internal/],
      [["s1", "LAUNCH", "--meta", "novalue"], /expected key=value/],
      [["s1", "LAUNCH", "--meta", 'nested:={"a":1}'], /flat/],
      [["s1", "TASK_COMPLETED"], /invalid event message.*task/],
      [["s1"], /expected <stackId> <EVENT>/],
    ];
    for (const [args, error] of cases) {
      const res = await cli(send, ...args);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.err).toMatch(error);
    }
    expect(await drain(aws.sqs, aws.eventQueueUrl)).toEqual([]);
    isolate();
    expect((await cli(send, "s1", "LAUNCH", "--machine", "qa-env")).err).toMatch(/no event queue/);
  });

  it("parseMeta: k=v is a string, k:=json a scalar", () => {
    expect(parseMeta("a=1")).toEqual({ key: "a", value: "1" });
    expect(parseMeta("a:=1")).toEqual({ key: "a", value: 1 });
    expect(parseMeta("url=http://x/?q:=1")).toEqual({ key: "url", value: "http://x/?q:=1" });
    expect(parseMeta('tag:="007"')).toEqual({ key: "tag", value: "007" });
    expect(parseMeta("a:=[1]")).toHaveProperty("error");
  });

  it("stacks list / show / history: tables and JSON from the database", async () => {
    isolate({ DATABASE_URL: database.url });
    const m = manager(database.url, aws.sqs, aws.taskQueueUrl);
    try {
      await deliver(
        m.sm,
        sqsRecord(event("feature-1", "LAUNCH", { machine: "qa-env", metadata: { apiImageTag: "e724e90" } })),
      );
      await deliver(m.sm, sqsRecord(event("feature-2", "LAUNCH", { machine: "fanout" })));
      const s1 = await mustGetStack(m.db, "feature-1");
      await deliver(
        m.sm,
        sqsRecord(completed("feature-1", "apply-infra", tokenOf(s1, "apply-infra"))),
        sqsRecord({
          stackId: "feature-1",
          event: "TASK_ERROR",
          task: "seed-data",
          token: tokenOf(s1, "seed-data"),
          description: "seed failed: timeout",
        }),
        sqsRecord(event("feature-1", "DESTROY")),
      );
    } finally {
      await m.close();
    }

    const list = await cli(stacks, "list");
    expect(list.code).toBe(0);
    const lines = list.out.trim().split("\n");
    // The ERROR column shows a failed task's first Error: line (issue 20, item 4).
    expect(lines[0]).toMatch(/^STACK\s+MACHINE\s+STATE\s+TASKS\s+UPDATED\s+ERROR$/);
    expect(lines[1]).toMatch(/^feature-1\s+qa-env\s+PROVISION\s+1\/2 satisfied, 1 failed\s/);
    expect(lines[2]).toMatch(/^feature-2\s+fanout\s+BUILD\s+0\/5 satisfied\s/);
    const filtered = JSON.parse((await cli(stacks, "list", "--machine", "fanout", "--json")).out);
    expect(filtered.map((s: { id: string }) => s.id)).toEqual(["feature-2"]);

    const show = await cli(stacks, "show", "feature-1");
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/State\s+PROVISION/);
    expect(show.out).toMatch(/apiImageTag\s+e724e90/);
    expect(show.out).toMatch(/apply-infra\s+SATISFIED\s+1/);
    expect(show.out).toMatch(/seed-data\s+ERROR\s+1\s+\S+\s+seed failed: timeout/);
    const shown = JSON.parse((await cli(stacks, "show", "feature-1", "--json")).out);
    expect(shown).toMatchObject({ id: "feature-1", machine: "qa-env", state: "PROVISION" });

    const history = await cli(stacks, "history", "feature-1");
    expect(history.code).toBe(0);
    const rows = history.out.trim().split("\n");
    expect(rows[0]).toMatch(/^TIME\s+EVENT\s+OUTCOME\s+FROM\s+TO\s+DETAIL$/);
    expect(rows).toHaveLength(5);
    expect(rows[1]).toMatch(/LAUNCH\s+applied\s+-\s+PROVISION/);
    expect(rows[3]).toMatch(
      /TASK_ERROR\s+applied\s+PROVISION\s+PROVISION\s+task seed-data failed: seed failed: timeout$/,
    );
    expect(rows[4]).toMatch(
      /DESTROY\s+refused\s+PROVISION\s+PROVISION\s+state PROVISION does not handle DESTROY/,
    );
    const json = JSON.parse((await cli(stacks, "history", "feature-1", "--json")).out);
    expect(json.map((h: { outcome: string }) => h.outcome)).toEqual([
      "applied",
      "applied",
      "applied",
      "refused",
    ]);

    const missing = await cli(stacks, "show", "nope");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/stack nope does not exist/);
    expect((await cli(stacks, "frobnicate")).code).toBe(2);
    expect((await cli(stacks, "show")).code).toBe(2);
    expect((await cli(stacks, "list", "--limit", "zero")).code).toBe(2);
  });

  it("specs push: uploads nothing when one spec is invalid, everything when all are valid", async () => {
    isolate(aws.env);
    const dir = await mkdtemp(join(tmpdir(), "stackseam-push-"));
    try {
      const { readFile } = await import("node:fs/promises");
      await writeFile(join(dir, "qa-env.yml"), await readFile(join(FIXTURES, "qa-env.yml"), "utf8"));
      await writeFile(
        join(dir, "broken.yml"),
        "version: 1\nevents: [GO]\nstates:\n  INIT:\n    on:\n      GO: [{ action: advance, state: NOWHERE }]\n",
      );
      const bad = await cli(specs, "push", dir, "--bucket", aws.bucket, "--prefix", "machines");
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(
        new RegExp(`${join(dir, "broken.yml").replace(/[.]/g, "\\.")}:\\d+:\\d+: error: `),
      );
      expect(bad.err).toMatch(/nothing uploaded/);
      const none = await aws.s3.send(new ListObjectsV2Command({ Bucket: aws.bucket, Prefix: "machines/" }));
      expect(none.Contents ?? []).toEqual([]);

      await rm(join(dir, "broken.yml"));
      await writeFile(join(dir, "fanout.yaml"), await readFile(join(FIXTURES, "fanout.yml"), "utf8"));
      const good = await cli(specs, "push", dir, "--bucket", aws.bucket, "--prefix", "machines");
      expect(good).toMatchObject({ code: 0 });
      expect(good.out).toMatch(/s3:\/\/stackseam-specs\/machines\/qa-env\.yml/);
      const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: aws.bucket, Prefix: "machines/" }));
      expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([
        "machines/fanout.yaml",
        "machines/qa-env.yml",
      ]);
      const body = await aws.s3.send(
        new GetObjectCommand({ Bucket: aws.bucket, Key: "machines/qa-env.yml" }),
      );
      expect(await body.Body?.transformToString()).toMatch(/PROVISION/);

      expect((await cli(specs, "push", dir)).err).toMatch(/no bucket/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
