// Issue 12, defect 3: one spec must not break every machine. A spec nested deeply enough to
// overflow the old readers (they threw RangeError near 2,000 levels), or one over 1 MiB, costs only
// its own machine: refused events with a reason in history, other machines served, reloads logged.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { MAX_SPEC_BYTES } from "@stackseam/core";
import {
  getHistory,
  localMachineSource,
  type MachineLookup,
  s3MachineSource,
} from "@stackseam/state-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { logReloads, type ReloadLog } from "../src/machine-source.js";
import { deliver, FIXTURES, manager, sqsRecord } from "./helpers.js";

const FANOUT = await readFile(join(FIXTURES, "fanout.yml"), "utf8");
const QA = await readFile(join(FIXTURES, "qa-env.yml"), "utf8");
// A visible change, to see that a reload happened.
const FANOUT_V2 = FANOUT.replace("events: [LAUNCH, DESTROY]", "events: [LAUNCH, DESTROY, FREEZE]");

/** The spec of issue 12: valid, plus `x-deep:` and `depth` block sequences ("- - - …"). */
const deepSpec = (depth: number) => `${FANOUT}x-deep:\n${"- ".repeat(depth)}x\n`;
// Around the depth where the old readers overflowed the stack (which one depends on the stack in use).
const DEPTHS = Array.from({ length: 21 }, (_, i) => 1950 + 5 * i);
// Over the limit by a comment: valid YAML all along, refused for its size alone.
const HUGE = `${FANOUT}# ${"x".repeat(MAX_SPEC_BYTES)}\n`;

function capture(): ReloadLog & {
  lines: { level: string; message: string; extra: Record<string, unknown> }[];
} {
  const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (message, extra) => lines.push({ level: "info", message, extra }),
    warn: (message, extra) => lines.push({ level: "warn", message, extra }),
  };
}

function reasonOf(lookup: MachineLookup): string {
  if (lookup.ok) throw new Error(`expected a refusal, got machine ${lookup.machine.name}`);
  return lookup.reason;
}

describe("a hostile spec in S3", () => {
  let aws: TestAws;
  let database: TestDatabase;
  let s3: S3Client;
  const fetched: string[] = [];

  beforeAll(async () => {
    aws = await startTestAws();
    database = await createTestDatabase();
    s3 = new S3Client({
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: TEST_CREDENTIALS,
      forcePathStyle: true,
    });
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "GetObjectCommand")
          fetched.push(String((args.input as { Key?: string }).Key));
        return next(args);
      },
      { step: "initialize", name: "recordFetches" },
    );
  });
  afterAll(async () => {
    s3?.destroy();
    await aws?.stop();
    await database?.drop();
  });

  const put = (key: string, body: string) =>
    aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: body }));

  it("a cold container serves every other machine and refuses the bad ones' events with the reason in history", async () => {
    await put("cold/fanout.yml", FANOUT);
    for (const depth of DEPTHS) await put(`cold/deep-${depth}.yml`, deepSpec(depth));
    await put("cold/huge.yml", HUGE);
    const log = capture();
    const machines = s3MachineSource({ s3, bucket: aws.bucket, prefix: "cold/", onReload: logReloads(log) });
    const m = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines });
    try {
      await deliver(
        m.sm,
        sqsRecord({ stackId: "cold-good", event: "LAUNCH", machine: "fanout" }),
        sqsRecord({ stackId: "cold-deep", event: "LAUNCH", machine: "deep-2000" }),
        sqsRecord({ stackId: "cold-huge", event: "LAUNCH", machine: "huge" }),
      );
      expect(await getHistory(m.db, "cold-good")).toMatchObject([{ outcome: "applied", to: "BUILD" }]);
      const [deep] = await getHistory(m.db, "cold-deep");
      expect(deep).toMatchObject({ outcome: "refused" });
      // The line after the spec's last, at the 64th "- " (the 65th level: column 2 × 63 + 1).
      const line = FANOUT.split("\n").length + 1;
      expect(deep?.reason).toBe(
        `machine deep-2000 has an invalid spec: s3://${aws.bucket}/cold/deep-2000.yml:${line}:127: error: mappings and lists are nested more than 64 levels deep here; a spec may nest at most 64`,
      );
      const [huge] = await getHistory(m.db, "cold-huge");
      expect(huge).toMatchObject({ outcome: "refused" });
      expect(huge?.reason).toMatch(
        /^machine huge has an invalid spec: s3:\/\/[^:]+\/cold\/huge\.yml:1:1: error: the spec is 1 MiB \(\d+ bytes\); a spec may be at most 1 MiB \(1048576 bytes\)/,
      );
      // Refused from the listing's size, never downloaded.
      expect(fetched.filter((k) => k.startsWith("cold/huge"))).toEqual([]);
      // Each bad spec is logged once, with its machine and first error.
      const warned = log.lines.filter((l) => l.level === "warn").map((l) => l.extra.machine);
      expect(warned.sort()).toEqual([...DEPTHS.map((d) => `deep-${d}`), "huge"].sort());
      expect(log.lines.find((l) => l.extra.machine === "deep-2000")).toEqual({
        level: "warn",
        message: "machine spec invalid",
        extra: {
          machine: "deep-2000",
          source: `s3://${aws.bucket}/cold/deep-2000.yml`,
          keptLastGood: false,
          errors: 1,
          firstError: `s3://${aws.bucket}/cold/deep-2000.yml:${line}:127: error: mappings and lists are nested more than 64 levels deep here; a spec may nest at most 64`,
        },
      });
    } finally {
      await m.close();
    }
  });

  it("a warm container keeps reloading the other specs after one turns bad, and logs the failed reload", async () => {
    await put("warm/fanout.yml", FANOUT);
    await put("warm/qa-env.yml", QA);
    let clock = 1_000_000;
    const log = capture();
    const errors: unknown[] = [];
    let failS3 = false;
    const flaky = new S3Client({
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: TEST_CREDENTIALS,
      forcePathStyle: true,
      maxAttempts: 1,
    });
    flaky.middlewareStack.add(
      (next) => async (args) => {
        if (failS3) throw new Error("S3 unreachable (injected)");
        return next(args);
      },
      { step: "initialize", name: "failOnDemand" },
    );
    const source = s3MachineSource({
      s3: flaky,
      bucket: aws.bucket,
      prefix: "warm/",
      ttlSeconds: 30,
      now: () => clock,
      onReload: logReloads(log),
      onReloadError: (e) => errors.push(e),
    });
    try {
      expect((await source.get("qa-env")).ok).toBe(true);
      expect((await source.get("fanout")).ok).toBe(true);

      for (const depth of DEPTHS) await put(`warm/deep-${depth}.yml`, deepSpec(depth));
      await put("warm/qa-env.yml", deepSpec(2000));
      await put("warm/fanout.yml", FANOUT_V2);
      clock += 31_000;
      const fanout = await source.get("fanout");
      expect(fanout.ok && fanout.machine.events.has("FREEZE")).toBe(true);
      expect(reasonOf(await source.get("qa-env"))).toMatch(
        /qa-env\.yml:\d+:127: error: .*nested more than 64/,
      );
      expect(log.lines.filter((l) => l.extra.machine === "qa-env").at(-1)).toMatchObject({
        level: "warn",
        message: "machine spec invalid",
        extra: { machine: "qa-env", firstError: expect.stringMatching(/nested more than 64 levels deep/) },
      });

      // A revalidation that fails keeps the cached specs and says so, instead of failing silently.
      failS3 = true;
      clock += 31_000;
      expect((await source.get("fanout")).ok).toBe(true);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: "MACHINE_SOURCE", message: expect.stringMatching(/warm\//) });
    } finally {
      flaky.destroy();
    }
  });
});

describe("a hostile spec in a folder", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dir: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    dir = await mkdtemp(join(tmpdir(), "stackseam-hostile-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await aws?.stop();
    await database?.drop();
  });

  it("its machine's events get a refused history row instead of being retried; other machines run", async () => {
    await writeFile(join(dir, "fanout.yml"), FANOUT);
    for (const depth of DEPTHS) await writeFile(join(dir, `deep-${depth}.yml`), deepSpec(depth));
    await writeFile(join(dir, "huge.yml"), HUGE);
    const log = capture();
    const machines = localMachineSource({ dir, keepLastGood: false, onReload: logReloads(log) });
    const m = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines });
    try {
      await deliver(
        m.sm,
        sqsRecord({ stackId: "dir-good", event: "LAUNCH", machine: "fanout" }),
        ...DEPTHS.map((d) => sqsRecord({ stackId: `dir-deep-${d}`, event: "LAUNCH", machine: `deep-${d}` })),
        sqsRecord({ stackId: "dir-huge", event: "LAUNCH", machine: "huge" }),
      );
      expect(await getHistory(m.db, "dir-good")).toMatchObject([{ outcome: "applied", to: "BUILD" }]);
      for (const d of DEPTHS) {
        const [row] = await getHistory(m.db, `dir-deep-${d}`);
        expect(row).toMatchObject({ outcome: "refused" });
        expect(row?.reason).toMatch(
          new RegExp(`deep-${d}\\.yml:\\d+:127: error: mappings and lists are nested more than 64`),
        );
      }
      const [huge] = await getHistory(m.db, "dir-huge");
      expect(huge?.reason).toMatch(/huge\.yml:1:1: error: the spec is 1 MiB .*a spec may be at most 1 MiB/);
      expect(log.lines.find((l) => l.extra.machine === "huge")).toMatchObject({
        level: "warn",
        extra: { errors: 1, firstError: expect.stringMatching(/the spec is 1 MiB/) },
      });
    } finally {
      await m.close();
    }
  });
});
