import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { parseSpec, parseTaskReport } from "@stackseam/core";
import {
  createStateManager,
  type Database,
  localMachineSource,
  openDatabase,
} from "@stackseam/state-manager";
import { createTaskSatisfier, type LambdaInvoker } from "@stackseam/task-satisfier";
import type { Context, SQSRecord } from "aws-lambda";
import fc from "fast-check";
import type { Kysely } from "kysely";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { drainQueue } from "../support/sqs.js";
import { canonical } from "./support/canonical.js";
import { captureOutput, prototypeSnapshot } from "./support/capture.js";
import { toRecord } from "./support/event-queue.js";
import { partStarted, recordFigures } from "./support/figures.js";
import {
  anyValue,
  bodies,
  messageLike,
  mutatedValid,
  PROTO_KEYS,
  protoTemplates,
  sampleChunks,
} from "./support/fuzz-arbitraries.js";
import { hitsFauxqsLimit } from "./support/known-defects.js";
import { MACHINE_DIR, MACHINE_NAMES } from "./support/machines.js";
import { SEED, SIZES, TEST_TIMEOUT_MS } from "./support/sizes.js";

const DEBUG = process.env.STACKSEAM_RELIABILITY_DEBUG === "1";

const record = (body: string): SQSRecord =>
  toRecord({ messageId: randomUUID(), body, key: "", stackId: null, visibleAt: 0, receiveCount: 1 });

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const lambdaContext = (): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName: "stackseam-task-satisfier",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:stackseam-task-satisfier",
  memoryLimitInMB: "1024",
  awsRequestId: "fuzz",
  logGroupName: "/aws/lambda/stackseam-task-satisfier",
  logStreamName: "fuzz",
  getRemainingTimeInMillis: () => 15 * 60_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
});

/** What the database holds outside history; fuzzed messages must leave it untouched. */
async function outsideHistory(db: Kysely<Database>): Promise<string> {
  const stacks = await db.selectFrom("stacks").selectAll().orderBy("id").execute();
  const outbox = await db.selectFrom("outbox").selectAll().orderBy("id").execute();
  return canonical({ stacks, outbox });
}

describe("reliability: fuzzing the edges", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let prototypes: string;

  beforeAll(async () => {
    prototypes = prototypeSnapshot();
    database = await createTestDatabase();
    aws = await startTestAws();
  });
  afterAll(async () => {
    await aws?.stop();
    await database?.drop();
  });

  it(
    `${SIZES.fuzzBodies} arbitrary event bodies: each refused or ignored, with a reason; only history is written`,
    async () => {
      partStarted("fuzz-state-manager");
      const db = openDatabase(database.url, { max: 3 });
      const logger = new Logger({ serviceName: "stackseam-fuzz", logLevel: "INFO" });
      const sm = createStateManager({
        db,
        sqs: aws.sqs,
        taskQueueUrl: aws.taskQueueUrl,
        machines: localMachineSource({ dir: MACHINE_DIR }),
        logger,
      });
      try {
        // Two live stacks waiting on tasks: fuzzed events aimed at them must change nothing.
        const quiet = captureOutput();
        try {
          const seeded = await sm.processRecords(
            ["fz-a", "fz-b"].map((id) =>
              record(JSON.stringify({ stackId: id, event: "LAUNCH", machine: "fanout" })),
            ),
          );
          expect(seeded.batchItemFailures).toEqual([]);
        } finally {
          quiet.restore();
        }
        await drainQueue(aws.sqs, aws.taskQueueUrl);
        const before = await outsideHistory(db);
        expect(before).toContain('"state":"BUILD"');
        const lastHistory = (
          await db.selectFrom("history").select(sql<string>`max(id)`.as("id")).executeTakeFirst()
        )?.id;

        const events = messageLike({
          stackId: fc.constantFrom(
            "fz-a",
            "fz-b",
            "fz-new",
            "fz-a ",
            "FZ-A",
            "../fz-a",
            "",
            "__proto__",
            "constructor",
          ),
          event: fc.constantFrom(
            "LAUNCH",
            "DESTROY",
            "REBUILD",
            "TOUCH",
            "NEXT",
            "TASK_COMPLETED",
            "TASK_ERROR",
            "RETRY_FAILED_TASKS",
            "launch",
            "BOGUS",
            "",
          ),
          action: fc.constantFrom("LAUNCH", "DESTROY", "TASK_COMPLETED", "NEXT"),
          machine: fc.constantFrom(
            "no-such-machine",
            "../machines/fanout",
            "fanout.yml",
            "FANOUT",
            "",
            "qa-env/..",
          ),
          metadata: fc.dictionary(
            fc.oneof(fc.constantFrom(...PROTO_KEYS, "owner", "stack_id"), fc.string({ maxLength: 10 })),
            anyValue,
            {
              maxKeys: 4,
            },
          ),
          eventId: fc.oneof(fc.uuid(), fc.constant("fuzz-repeated-id")),
          task: fc.constantFrom("t1", "t2", "nope", ""),
          token: fc.oneof(fc.uuid(), fc.constant("tok")),
          description: fc.string(),
        });
        const valid = [
          { stackId: "fz-a", event: "DESTROY", eventId: "ev-1", metadata: { owner: "me" } },
          { stackId: "fz-b", event: "REBUILD" },
          { stackId: "fz-a", event: "TASK_COMPLETED", task: "t1", token: "not-the-token" },
          { stackId: "fz-b", event: "TASK_ERROR", task: "t2", token: "stale", description: "boom" },
          { stackId: "fz-new", action: "LAUNCH", machine: "no-such-machine" },
        ];
        const arb = fc.oneof(
          { weight: 4, arbitrary: bodies(events, protoTemplates("fz-a", "DESTROY")) },
          { weight: 2, arbitrary: mutatedValid(valid).map((o) => JSON.stringify(o)) },
          { weight: 1, arbitrary: fc.constantFrom(...valid).map((o) => JSON.stringify(o)) },
        );
        const sampling = { setAside: 0 };
        const crashes: string[] = [];
        const returned: string[] = [];
        const unexplained: string[] = [];
        const verdicts = { refused: 0, ignored: 0 };
        let judged = 0;
        for (const texts of sampleChunks(arb, SIZES.fuzzBodies, SEED, () => true, sampling)) {
          const records = texts.map(record);
          judged += records.length;
          const capture = captureOutput();
          try {
            for (const batch of batches(records, 10)) {
              try {
                const res = await sm.processRecords(batch);
                const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
                for (const r of batch) if (failed.has(r.messageId)) returned.push(r.body.slice(0, 300));
              } catch (err) {
                crashes.push(`${String(err)} on ${batch.map((r) => r.body.slice(0, 120)).join(" | ")}`);
              }
            }
          } finally {
            capture.restore();
          }
          // Every record got a logged verdict with a reason a person can read.
          const logged = new Map(
            capture
              .records()
              .filter((l) => typeof l.messageId === "string" && typeof l.outcome === "string")
              .map((l) => [l.messageId, l]),
          );
          for (const r of records) {
            const v = logged.get(r.messageId);
            if (
              !v ||
              !["refused", "ignored"].includes(String(v.outcome)) ||
              String(v.reason ?? "").length < 5
            )
              unexplained.push(r.body.slice(0, 200));
            else if (v.outcome === "refused") verdicts.refused += 1;
            else verdicts.ignored += 1;
          }
        }

        expect(crashes).toEqual([]);
        // Nothing here is transient: a returned record would come back forever.
        expect(returned).toEqual([]);
        expect(await outsideHistory(db)).toBe(before);
        const added = await db
          .selectFrom("history")
          .select(["outcome", "reason", "event_key"])
          .where("id", ">", lastHistory ?? "0")
          .execute();
        expect(added.filter((h) => h.outcome === "applied")).toEqual([]);
        expect(added.filter((h) => !h.reason || h.reason.length < 10)).toEqual([]);
        expect(unexplained).toEqual([]);
        expect(judged).toBe(SIZES.fuzzBodies);
        const figures = {
          fuzz: "state-manager",
          bodies: judged,
          setAside: sampling.setAside,
          ...verdicts,
          historyRows: added.length,
        };
        console.log(JSON.stringify(figures));
        await recordFigures("fuzz-state-manager", figures);
      } finally {
        await sm.close();
        await db.destroy();
      }
      expect(prototypeSnapshot()).toBe(prototypes);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `${SIZES.fuzzBodies} arbitrary task messages: dropped with a log, or answered with TASK_ERROR; never a crash`,
    async () => {
      partStarted("fuzz-task-satisfier");
      const workDir = await mkdtemp(join(tmpdir(), "stackseam-rel-fuzz-"));
      const invoked: string[] = [];
      const invoker: LambdaInvoker = {
        async invoke(name) {
          invoked.push(name);
          return { ok: false, errorType: "FuzzError", errorMessage: "fuzzed task messages never succeed" };
        },
      };
      const satisfier = createTaskSatisfier({
        sqs: aws.sqs,
        eventQueueUrl: aws.eventQueueUrl,
        s3: aws.s3,
        invoker,
        terraformBin: join(workDir, "no-terraform-here"),
        workDir,
        deadlineMarginMs: 1_000,
        logger: new Logger({ serviceName: "stackseam-fuzz", logLevel: "INFO" }),
      });
      const tasks = messageLike({
        stackId: fc.constantFrom("fz-a", "fz-b", "", "../x", "__proto__"),
        machine: fc.constantFrom("fanout", "", "../../etc"),
        state: fc.constantFrom("BUILD", "build", ""),
        task: fc.constantFrom("t1", "", "x".repeat(65)),
        executor: fc.constantFrom("lambda", "terraform", "shell", "__proto__", ""),
        config: fc.oneof(
          fc.record({ name: fc.constantFrom("step-1", "", "$(id)"), args: anyValue }, { requiredKeys: [] }),
          fc.record(
            {
              action: fc.constantFrom("apply", "destroy", "plan"),
              source: fc.oneof(
                fc.record({
                  type: fc.constant("local"),
                  location: fc.constantFrom("/nonexistent", "../..", ""),
                }),
                fc.record({
                  type: fc.constant("s3"),
                  bucket: fc.constantFrom(aws.bucket, "nope"),
                  key: fc.constantFrom("../", "a/b"),
                }),
              ),
              variables: anyValue,
            },
            { requiredKeys: [] },
          ),
        ),
        metadata: fc.dictionary(
          fc.oneof(fc.constantFrom(...PROTO_KEYS, "owner"), fc.string({ maxLength: 10 })),
          anyValue,
          {
            maxKeys: 4,
          },
        ),
        token: fc.oneof(fc.uuid(), fc.constant("")),
        attempt: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double()),
        dispatchedAt: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
        ),
      });
      const base = {
        stackId: "fz-a",
        machine: "fanout",
        state: "BUILD",
        task: "t1",
        executor: "lambda",
        config: { name: "step-1", args: { size: "small" } },
        metadata: { owner: "me" },
        token: "tok-1",
        attempt: 1,
      };
      const valid = [
        base,
        {
          ...base,
          executor: "terraform",
          config: { action: "apply", source: { type: "local", location: "/nonexistent" } },
        },
        {
          ...base,
          executor: "terraform",
          config: { action: "destroy", source: { type: "s3", bucket: aws.bucket, key: "../../etc" } },
        },
      ];
      const arb = fc.oneof(
        { weight: 4, arbitrary: bodies(tasks, protoTemplates("fz-a", "TASK_COMPLETED")) },
        { weight: 3, arbitrary: mutatedValid(valid).map((o) => JSON.stringify(o)) },
        { weight: 1, arbitrary: fc.constantFrom(...valid).map((o) => JSON.stringify(o)) },
      );
      const sampling = { setAside: 0 };
      const crashes: string[] = [];
      const returned: string[] = [];
      const stats = { judged: 0, dropped: 0, reported: 0, badReports: [] as string[] };
      try {
        for (const texts of sampleChunks(
          arb,
          SIZES.fuzzBodies,
          SEED + 1,
          (t) => !hitsFauxqsLimit(t),
          sampling,
        )) {
          const records = texts.map(record);
          stats.judged += records.length;
          const capture = captureOutput();
          try {
            for (const batch of batches(records, 10)) {
              try {
                const res = await satisfier.handler({ Records: batch }, lambdaContext());
                const failures = "batchItemFailures" in res ? res.batchItemFailures : [];
                const failed = new Set(failures.map((f) => f.itemIdentifier));
                for (const r of batch) if (failed.has(r.messageId)) returned.push(r.body.slice(0, 300));
                if (DEBUG && failed.size > 0)
                  writeFileSync(
                    "/tmp/stackseam-fuzz-returned.json",
                    JSON.stringify(batch.filter((r) => failed.has(r.messageId)).map((r) => r.body)),
                  );
              } catch (err) {
                crashes.push(`${String(err)} on ${batch.map((r) => r.body.slice(0, 120)).join(" | ")}`);
              }
            }
          } finally {
            capture.restore();
          }
          stats.dropped += capture
            .records()
            .filter(
              (l) => l.message === "unreadable task message dropped" && typeof l.reason === "string",
            ).length;
          for (const m of await drainQueue(aws.sqs, aws.eventQueueUrl)) {
            const r = parseTaskReport(m.Body ?? "");
            stats.reported += 1;
            // Every report is a TASK_ERROR that says what was wrong.
            if (!r.ok || r.report.event !== "TASK_ERROR" || (r.report.description ?? "").length < 10)
              stats.badReports.push((m.Body ?? "").slice(0, 300));
          }
        }
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }

      expect(crashes).toEqual([]);
      expect(returned).toEqual([]);
      expect(stats.badReports).toEqual([]);
      expect(stats.judged).toBe(SIZES.fuzzBodies);
      expect(stats.dropped + stats.reported).toBe(stats.judged);
      const figures = {
        fuzz: "task-satisfier",
        bodies: stats.judged,
        setAsideForFauxqsAstralLimit: sampling.setAside,
        dropped: stats.dropped,
        reportedAsError: stats.reported,
        lambdaInvocations: invoked.length,
      };
      console.log(JSON.stringify(figures));
      expect(prototypeSnapshot()).toBe(prototypes);
      await recordFigures("fuzz-task-satisfier", figures);
    },
    TEST_TIMEOUT_MS,
  );

  it(`${SIZES.fuzzSpecs * 2} random and mutated specs: parseSpec answers with positioned diagnostics, never throws`, async () => {
    partStarted("fuzz-parse-spec");
    const valid = MACHINE_NAMES.map((n) => readFileSync(`${MACHINE_DIR}${n}.yml`, "utf8"));
    const fragments = [
      "version: 1",
      "version: 2",
      "events: [A, B]",
      "states:",
      "INIT:",
      "on:",
      "- action: advance",
      "state: X",
      "tasks:",
      "terminal: true",
      "<<: *a",
      "x-a: &a",
      "!!js/function 'function () { globalThis.polluted = 1 }'",
      "? [complex, key]",
      "---",
      "...",
      "%YAML 1.2",
      "&a [*a]",
      "key: !!binary aGVsbG8=",
      "{a: [b, {c: d}]}",
      '"unterminated',
      "__proto__: {polluted: true}",
      "constructor: {prototype: {polluted: true}}",
      "<<: {polluted: true}",
      "executor: terraform",
      "config: {action: apply, source: {type: s3, bucket: b, key: ../../x}}",
    ];
    const yamlish = fc
      .array(
        fc.tuple(
          fc.integer({ min: 0, max: 6 }),
          fc.oneof(
            fc.constantFrom(...fragments),
            fc.string({ maxLength: 30 }),
            fc.string({ unit: "binary", maxLength: 10 }),
          ),
        ),
        { maxLength: 40 },
      )
      .map((lines) => lines.map(([indent, text]) => `${" ".repeat(indent)}${text}`).join("\n"));
    const laughs = fc.integer({ min: 2, max: 12 }).map((n) => {
      const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (let i = 1; i <= n; i++)
        lines.push(
          `a${i}: &a${i} [${Array(9)
            .fill(`*a${i - 1}`)
            .join(",")}]`,
        );
      return lines.join("\n");
    });
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("swap" as const), at: fc.nat(), with: fc.nat() }),
      fc.record({ kind: fc.constant("indent" as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
      fc.record({
        kind: fc.constant("replace" as const),
        at: fc.nat(),
        text: fc.oneof(
          fc.constantFrom(...fragments, ...PROTO_KEYS, "9".repeat(400), "null", "~"),
          fc.string({ maxLength: 12 }),
        ),
      }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    );
    const mutated = fc
      .tuple(fc.constantFrom(...valid), fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([text, ms]) => {
        let lines = text.split("\n");
        for (const m of ms) {
          const i = m.at % Math.max(1, lines.length);
          const line = lines[i] ?? "";
          if (m.kind === "delete") lines.splice(i, 1);
          else if (m.kind === "duplicate") lines.splice(i, 0, line);
          else if (m.kind === "swap") {
            const j = m.with % Math.max(1, lines.length);
            [lines[i], lines[j]] = [lines[j] ?? "", line];
          } else if (m.kind === "indent")
            lines[i] =
              m.by >= 0 ? `${" ".repeat(m.by)}${line}` : line.replace(new RegExp(`^ {0,${-m.by}}`), "");
          else if (m.kind === "replace") {
            const words = line.split(/(\s+|:|,|\[|\])/);
            const w = m.at % Math.max(1, words.length);
            words[w] = m.text;
            lines[i] = words.join("");
          } else lines = lines.slice(0, i);
        }
        return lines.join("\n");
      });
    const texts = [
      ...fc.sample(fc.oneof({ weight: 5, arbitrary: yamlish }, { weight: 1, arbitrary: laughs }), {
        numRuns: SIZES.fuzzSpecs,
        seed: SEED + 2,
      }),
      ...fc.sample(mutated, { numRuns: SIZES.fuzzSpecs, seed: SEED + 3 }),
    ];
    const problems: string[] = [];
    let accepted = 0;
    for (const text of texts) {
      try {
        const { machine, diagnostics } = parseSpec(text, { name: "fuzz", file: "fuzz.yml" });
        const errors = diagnostics.filter((d) => d.severity === "error");
        if (machine) accepted += 1;
        if (machine && errors.length > 0) problems.push(`accepted with errors: ${text.slice(0, 200)}`);
        if (!machine && errors.length === 0) problems.push(`refused without an error: ${text.slice(0, 200)}`);
        for (const d of diagnostics) {
          if (!(d.line >= 1 && d.column >= 1 && d.message.length >= 5 && d.file === "fuzz.yml"))
            problems.push(`unpositioned diagnostic ${JSON.stringify(d)} for ${text.slice(0, 200)}`);
        }
      } catch (err) {
        problems.push(`threw ${String(err)} for ${text.slice(0, 200)}`);
      }
    }
    console.log(JSON.stringify({ fuzz: "parseSpec", specs: texts.length, accepted }));
    expect(problems.slice(0, 20)).toEqual([]);
    expect(prototypeSnapshot()).toBe(prototypes);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((globalThis as Record<string, unknown>).polluted).toBeUndefined();
    await recordFigures("fuzz-parse-spec", { fuzz: "parseSpec", specs: texts.length, accepted });
  });
});
