import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { isCarriable, parseTaskReport, type TaskMessage, type TaskReport } from "@stackseam/core";
import { createTaskSatisfier, localLambdaInvoker } from "@stackseam/task-satisfier";
import type { Context, SQSRecord } from "aws-lambda";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../support/aws.js";
import { drainQueue } from "../support/sqs.js";
import { partStarted, recordFigures } from "./support/figures.js";
import { SEED, SIZES, TEST_TIMEOUT_MS } from "./support/sizes.js";

// Issue 12: fuzz the Task Satisfier with real failure output. A fake Terraform prints, and a fake
// function throws or returns, arbitrary bytes (control characters, ANSI sequences, invalid UTF-8,
// lone surrogates, lines of 1 MB); whatever they are, exactly one schema-valid, carriable report
// must reach the event queue and the SQS record must be acknowledged (never retried).

const FAKE_TF = new URL("../fixtures/fake-terraform/terraform", import.meta.url).pathname;
const FUNCTIONS = new URL("../../packages/task-satisfier/test/fixtures/functions/", import.meta.url).pathname;
const DECLARES_BACKEND = 'terraform {\n  backend "s3" {}\n}\nvariable "stack_id" {}\n';

const bytes = (text: string) => Buffer.from(text, "utf8");

/** Pieces of hostile output: each a byte string a real tool or wrapper could print. */
const piece: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  { weight: 3, arbitrary: fc.string({ maxLength: 80 }).map(bytes) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        "\u001b[31m",
        "\u001b[0m",
        "\u001b[1;33;41m",
        "\u001b[2K\r",
        "\u001b[?25l",
        "\u001b]0;title\u0007",
        "\u001b]8;;https://x\u001b\\",
        "\u001b]",
        "\u001b[",
        "\u001bP",
        "\u009b31m",
        "\r\n",
        "\r",
        "\u0000",
        "\u0007",
        "\u0008",
        "\u007f",
        "\ufeff",
        "\u202e",
        "Error: ",
        "╷\n│ ",
      )
      .map(bytes),
  },
  {
    weight: 2,
    // Invalid UTF-8: lone continuation bytes, overlongs, truncated sequences, CESU surrogates, 0xFF.
    arbitrary: fc
      .constantFrom(
        [0x80],
        [0xc0, 0x80],
        [0xe2, 0x82],
        [0xf0, 0x9f, 0x98],
        [0xed, 0xa0, 0x80],
        [0xff, 0xfe],
        [0xf8, 0x88, 0x80],
      )
      .map((a) => Buffer.from(a)),
  },
  // A megabyte on one line, without a newline: what a binary dump or a minified blob looks like.
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => Buffer.alloc(1024 * 1024, b)) },
);

/** A counterexample with a megabyte in it must stay readable: big buffers print as their size and start. */
function printable(buf: Buffer): Buffer {
  if (buf.length <= 256) return buf;
  return Object.assign(buf, {
    [fc.toStringMethod]: () =>
      `Buffer(${buf.length} bytes, starting ${JSON.stringify(buf.subarray(0, 64).toString("latin1"))})`,
  });
}

const output = fc.array(piece, { maxLength: 12 }).map((parts) => printable(Buffer.concat(parts)));

type Case =
  | { kind: "terraform"; stdout: Buffer; stderr: Buffer; step: "init" | "apply" | "output"; exit: number }
  | { kind: "terraform-outputs"; text: Buffer; encoding: BufferEncoding }
  | { kind: "lambda"; text: Buffer; encoding: BufferEncoding; as: "throw" | "outputs" | "errorName" };

const encoding = fc.constantFrom<BufferEncoding>("utf8", "latin1", "utf16le");
const cases: fc.Arbitrary<Case> = fc.oneof(
  fc.record({
    kind: fc.constant("terraform" as const),
    stdout: output,
    stderr: output,
    step: fc.constantFrom("init" as const, "apply" as const, "output" as const),
    exit: fc.constantFrom(0, 1, 2, 127),
  }),
  fc.record({ kind: fc.constant("terraform-outputs" as const), text: output, encoding }),
  fc.record({
    kind: fc.constant("lambda" as const),
    text: output,
    encoding,
    as: fc.constantFrom("throw" as const, "outputs" as const, "errorName" as const),
  }),
);

/** Characters beyond U+FFFF: real SQS carries them, fauxqs 2.4 refuses them (a test-double limit). */
const ASTRAL = /[\u{10000}-\u{10FFFF}]/u;

/** Whether the text a case makes the satisfier read could hold a character fauxqs cannot carry. */
function hitsFauxqsLimit(c: Case): boolean {
  const texts =
    c.kind === "terraform"
      ? [c.stdout.toString("utf8"), c.stderr.toString("utf8")]
      : [c.text.toString(c.encoding)];
  return texts.some((t) => ASTRAL.test(t));
}

const record = (body: string): SQSRecord => ({
  messageId: randomUUID(),
  receiptHandle: randomUUID(),
  body,
  attributes: {
    ApproximateReceiveCount: "1",
    SentTimestamp: "0",
    SenderId: "x",
    ApproximateFirstReceiveTimestamp: "0",
  },
  messageAttributes: {},
  md5OfBody: "",
  eventSource: "aws:sqs",
  eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:stackseam-tasks",
  awsRegion: "us-east-1",
});

const context = (): Context =>
  ({
    functionName: "stackseam-task-satisfier",
    awsRequestId: "fuzz",
    getRemainingTimeInMillis: () => 15 * 60_000,
  }) as Context;

describe("reliability: the Task Satisfier under hostile failure output", () => {
  let aws: TestAws;
  let dir: string;

  beforeAll(async () => {
    aws = await startTestAws();
    dir = await mkdtemp(join(tmpdir(), "stackseam-fuzz-output-"));
  });
  afterAll(async () => {
    await aws?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(
    `${SIZES.hostileTasks} runs with arbitrary bytes: one valid, carriable report each, every record acknowledged`,
    async () => {
      partStarted("satisfier-output");
      const satisfier = createTaskSatisfier({
        sqs: aws.sqs,
        eventQueueUrl: aws.eventQueueUrl,
        s3: aws.s3,
        invoker: localLambdaInvoker(FUNCTIONS),
        terraformBin: FAKE_TF,
        workDir: join(dir, "work"),
        deadlineMarginMs: 1000,
        heartbeatIntervalMs: 0,
        logger: new Logger({ serviceName: "fuzz", logLevel: "SILENT" }),
      });
      await mkdir(join(dir, "work"));
      const seen = { terraform: 0, lambda: 0, completed: 0, errors: 0, setAsideForFauxqsAstralLimit: 0 };

      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          // A report holding such a character would be refused by the test double, not by SQS.
          if (hitsFauxqsLimit(c)) seen.setAsideForFauxqsAstralLimit++;
          fc.pre(!hitsFauxqsLimit(c));
          const id = randomUUID();
          const scripts = join(dir, id);
          await mkdir(scripts);
          let message: TaskMessage;
          const base = {
            stackId: `fuzz-${id.slice(0, 8)}`,
            machine: "fuzz",
            state: "RUN",
            task: "t",
            metadata: {},
            token: id,
            attempt: 1,
          };
          if (c.kind === "lambda") {
            await writeFile(join(scripts, "text.bin"), c.text);
            message = {
              ...base,
              executor: "lambda",
              config: {
                name: "fails-with-file",
                args: { file: join(scripts, "text.bin"), encoding: c.encoding, as: c.as },
              },
            };
            seen.lambda++;
          } else {
            await writeFile(join(scripts, "main.tf"), DECLARES_BACKEND);
            let behaviour: Record<string, unknown>;
            if (c.kind === "terraform") {
              await writeFile(join(scripts, "out.bin"), c.stdout);
              await writeFile(join(scripts, "err.bin"), c.stderr);
              behaviour = {
                [c.step]: {
                  exit: c.exit,
                  printFile: join(scripts, "out.bin"),
                  printStderrFile: join(scripts, "err.bin"),
                },
              };
            } else {
              // Strings Terraform could put in `output -json`: any text, as JSON escapes it.
              behaviour = { outputs: { text: { sensitive: false, value: c.text.toString(c.encoding) } } };
            }
            await writeFile(join(scripts, "fake-terraform.json"), JSON.stringify(behaviour));
            message = {
              ...base,
              executor: "terraform",
              config: { action: "apply", source: { type: "local", location: scripts } },
            };
            seen.terraform++;
          }
          const res = await satisfier.handler({ Records: [record(JSON.stringify(message))] }, context());
          expect(res).toEqual({ batchItemFailures: [] });
          const reports = (await drainQueue(aws.sqs, aws.eventQueueUrl)).map(
            (m) => JSON.parse(m.Body ?? "") as TaskReport,
          );
          expect(reports).toHaveLength(1);
          const [report] = reports as [TaskReport];
          expect(report.token).toBe(id);
          expect(parseTaskReport(report).ok).toBe(true);
          expect(isCarriable(JSON.stringify(report))).toBe(true);
          if (report.event === "TASK_COMPLETED") seen.completed++;
          else seen.errors++;
          await rm(scripts, { recursive: true, force: true });
        }),
        { numRuns: SIZES.hostileTasks, seed: SEED, endOnFailure: true },
      );
      console.log(
        `satisfier output fuzz: ${SIZES.hostileTasks} runs (${seen.terraform} terraform, ${seen.lambda} lambda): ${seen.completed} completed, ${seen.errors} TASK_ERROR, 0 unsendable, 0 retried`,
      );
      await recordFigures("satisfier-output", { runs: SIZES.hostileTasks, ...seen });
    },
    TEST_TIMEOUT_MS,
  );
});
