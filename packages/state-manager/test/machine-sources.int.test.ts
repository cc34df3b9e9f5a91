import { mkdtemp, readFile, rm, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  getHistory,
  localMachineSource,
  type MachineLookup,
  type ReloadResult,
  s3MachineSource,
} from "@stackseam/state-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { deliver, FIXTURES, manager, sqsRecord } from "./helpers.js";

const QA = await readFile(join(FIXTURES, "qa-env.yml"), "utf8");
const FANOUT = await readFile(join(FIXTURES, "fanout.yml"), "utf8");
// Adds an event; a visible change to check a re-push is picked up.
const QA_V2 = QA.replace("events: [LAUNCH, DESTROY, TOUCH]", "events: [LAUNCH, DESTROY, TOUCH, FREEZE]");
// "advance" to a state that does not exist, on line 14.
const QA_BROKEN = QA.replace(
  "LAUNCH: [{ action: advance, state: PROVISION }]",
  "LAUNCH: [{ action: advance, state: PROVISON }]",
);

function machineOf(lookup: MachineLookup) {
  if (!lookup.ok) throw new Error(`expected a machine, got: ${lookup.reason}`);
  return lookup.machine;
}

describe("S3 machine source", () => {
  let aws: TestAws;
  let s3: S3Client;
  const calls: string[] = [];

  beforeAll(async () => {
    aws = await startTestAws();
    s3 = new S3Client({
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: TEST_CREDENTIALS,
      forcePathStyle: true,
    });
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(context.commandName ?? "?");
        return next(args);
      },
      { step: "initialize", name: "countRequests" },
    );
  });
  afterAll(async () => {
    s3?.destroy();
    await aws?.stop();
  });

  const put = (key: string, body: string) =>
    aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: body }));
  const count = (name: string) => calls.filter((c) => c === name).length;

  it("lists once, fetches each spec once, then serves events from the cache until the TTL passes", async () => {
    await put("machines/qa-env.yml", QA);
    await put("machines/fanout.yaml", FANOUT);
    await put("machines/README.md", "not a spec");
    await put("machines-old/qa-env.yml", QA_BROKEN);
    let clock = 1_000_000;
    const reloads: ReloadResult[][] = [];
    const source = s3MachineSource({
      s3,
      bucket: aws.bucket,
      prefix: "machines",
      ttlSeconds: 30,
      now: () => clock,
      onReload: (r) => reloads.push(r),
    });

    expect(machineOf(await source.get("qa-env")).events.has("FREEZE")).toBe(false);
    expect(machineOf(await source.get("fanout")).states.has("BUILD")).toBe(true);
    expect(count("ListObjectsV2Command")).toBe(1);
    expect(count("GetObjectCommand")).toBe(2);
    expect(
      reloads
        .flat()
        .map((r) => [r.machine, r.ok])
        .sort(),
    ).toEqual([
      ["fanout", true],
      ["qa-env", true],
    ]);

    // Steady state: a thousand events, not one S3 request.
    for (let i = 0; i < 1000; i++) await source.get(i % 2 ? "qa-env" : "fanout");
    expect(calls).toHaveLength(3);

    // A re-push is not seen before the TTL…
    await put("machines/qa-env.yml", QA_V2);
    clock += 29_000;
    expect(machineOf(await source.get("qa-env")).events.has("FREEZE")).toBe(false);
    expect(calls).toHaveLength(3);
    // …and is after it, fetching only the object whose ETag changed.
    clock += 2_000;
    expect(machineOf(await source.get("qa-env")).events.has("FREEZE")).toBe(true);
    expect(count("ListObjectsV2Command")).toBe(2);
    expect(count("GetObjectCommand")).toBe(3);

    // An invalid re-push refuses that machine, with positions, and leaves the others working.
    await put("machines/qa-env.yml", QA_BROKEN);
    clock += 31_000;
    const broken = await source.get("qa-env");
    expect(broken.ok).toBe(false);
    if (!broken.ok) {
      expect(broken.reason).toMatch(/machine qa-env has an invalid spec/);
      expect(broken.reason).toMatch(/qa-env\.yml:\d+:\d+/);
      expect(broken.diagnostics.some((d) => d.severity === "error" && d.line > 0)).toBe(true);
    }
    expect(machineOf(await source.get("fanout")).name).toBe("fanout");
    expect((await source.get("nope")).ok).toBe(false);
    expect(reloads.at(-1)?.map((r) => [r.machine, r.ok, r.keptLastGood])).toEqual([["qa-env", false, false]]);
  });

  it("keeps serving the cached specs when S3 fails after a good load", async () => {
    let clock = 0;
    let fail = false;
    const flaky = new S3Client({
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: TEST_CREDENTIALS,
      forcePathStyle: true,
      maxAttempts: 1,
    });
    flaky.middlewareStack.add(
      (next) => async (args) => {
        if (fail) throw new Error("S3 unreachable (injected)");
        return next(args);
      },
      { step: "initialize", name: "failOnDemand" },
    );
    const source = s3MachineSource({
      s3: flaky,
      bucket: aws.bucket,
      prefix: "machines/",
      ttlSeconds: 30,
      now: () => clock,
    });
    expect((await source.get("fanout")).ok).toBe(true);
    fail = true;
    clock += 60_000;
    expect((await source.get("fanout")).ok).toBe(true);
    const cold = s3MachineSource({
      s3: flaky,
      bucket: aws.bucket,
      prefix: "machines/",
      ttlSeconds: 30,
      now: () => clock,
    });
    await expect(cold.get("fanout")).rejects.toMatchObject({ code: "MACHINE_SOURCE" });
    flaky.destroy();
  });

  it("pages through listings longer than one response", async () => {
    await Promise.all(
      Array.from({ length: 1010 }, (_, i) => put(`many/notes/${String(i).padStart(4, "0")}.txt`, "x")),
    );
    await put("many/zz/fanout.yml", FANOUT);
    const source = s3MachineSource({ s3, bucket: aws.bucket, prefix: "many/", ttlSeconds: 30 });
    const before = count("ListObjectsV2Command");
    expect(machineOf(await source.get("fanout")).name).toBe("fanout");
    expect(count("ListObjectsV2Command") - before).toBeGreaterThan(1);
  });

  it("refuses a machine two objects claim", async () => {
    await put("dupes/a/fanout.yml", FANOUT);
    await put("dupes/b/fanout.yaml", FANOUT);
    const source = s3MachineSource({ s3, bucket: aws.bucket, prefix: "dupes/" });
    const lookup = await source.get("fanout");
    expect(lookup.ok).toBe(false);
    if (!lookup.ok) expect(lookup.reason).toMatch(/ambiguous/);
  });
});

describe("an invalid spec refuses only its own machine's events", () => {
  let aws: TestAws;
  let database: TestDatabase;

  beforeAll(async () => {
    aws = await startTestAws();
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await aws?.stop();
    await database?.drop();
  });

  it("records the refusal with the spec's diagnostics and keeps other machines running", async () => {
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: "specs/qa-env.yml", Body: QA_BROKEN }));
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: "specs/fanout.yml", Body: FANOUT }));
    const machines = s3MachineSource({ s3: aws.s3, bucket: aws.bucket, prefix: "specs/" });
    const m = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines });
    try {
      await deliver(
        m.sm,
        sqsRecord({ stackId: "bad-spec", event: "LAUNCH", machine: "qa-env" }),
        sqsRecord({ stackId: "good-spec", event: "LAUNCH", machine: "fanout" }),
      );
      const [bad] = await getHistory(m.db, "bad-spec");
      expect(bad).toMatchObject({ outcome: "refused" });
      expect(bad?.reason).toMatch(/invalid spec: s3:\/\/stackseam-specs\/specs\/qa-env\.yml:\d+:\d+/);
      const [good] = await getHistory(m.db, "good-spec");
      expect(good).toMatchObject({ outcome: "applied", to: "BUILD" });
    } finally {
      await m.close();
    }
  });
});

describe("local folder machine source", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stackseam-specs-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes a file with an explicit, strictly later mtime, so the change is seen whatever the clock granularity. */
  let tick = 1_700_000_000;
  async function write(name: string, text: string) {
    const path = join(dir, name);
    await writeFile(path, text);
    tick += 10;
    await utimes(path, tick, tick);
  }

  it("hot-reloads edits, keeps the last good version of a spec an edit broke, and reports why", async () => {
    const reloads: ReloadResult[] = [];
    const source = localMachineSource({ dir, onReload: (r) => reloads.push(...r) });
    await write("qa-env.yml", QA);
    await write("fanout.yaml", FANOUT);

    expect((await source.refresh()).map((r) => [r.machine, r.ok])).toEqual([
      ["fanout", true],
      ["qa-env", true],
    ]);
    expect(machineOf(await source.get("qa-env")).events.has("FREEZE")).toBe(false);
    reloads.length = 0;

    await write("qa-env.yml", QA_V2);
    expect(machineOf(await source.get("qa-env")).events.has("FREEZE")).toBe(true);
    expect(reloads.map((r) => [r.machine, r.ok])).toEqual([["qa-env", true]]);

    await write("qa-env.yml", QA_BROKEN);
    const kept = machineOf(await source.get("qa-env"));
    expect(kept.events.has("FREEZE")).toBe(true);
    const report = reloads.at(-1);
    expect(report).toMatchObject({ machine: "qa-env", ok: false, keptLastGood: true });
    const error = report?.diagnostics.find((d) => d.severity === "error");
    expect(error).toMatchObject({ file: join(dir, "qa-env.yml") });
    expect(error?.line).toBeGreaterThan(0);
    expect(error?.message).toMatch(/PROVISON/);

    // Unchanged files are not re-read or re-reported.
    const n = reloads.length;
    await source.get("qa-env");
    await source.get("fanout");
    expect(reloads).toHaveLength(n);

    await unlink(join(dir, "qa-env.yml"));
    const gone = await source.get("qa-env");
    expect(gone.ok).toBe(false);
    if (!gone.ok) expect(gone.reason).toMatch(/unknown machine "qa-env"/);
    expect(reloads.at(-1)).toMatchObject({ machine: "qa-env", removed: true });
  });

  it("refuses a spec that is invalid from the start, and names that cannot be spec files", async () => {
    await write("broken.yml", QA_BROKEN);
    const source = localMachineSource({ dir });
    const lookup = await source.get("broken");
    expect(lookup.ok).toBe(false);
    if (!lookup.ok) expect(lookup.reason).toMatch(/broken\.yml:\d+:\d+/);
    expect((await source.get("../fanout")).ok).toBe(false);
    expect(machineOf(await source.get("fanout")).name).toBe("fanout");
  });

  it("can refuse instead of keeping the last good version (what the Lambda does)", async () => {
    await write("strict.yml", FANOUT);
    const source = localMachineSource({ dir, keepLastGood: false });
    expect((await source.get("strict")).ok).toBe(true);
    await write("strict.yml", "version: 1\nevents: [A]\nstates: {}\n");
    expect((await source.get("strict")).ok).toBe(false);
  });
});
