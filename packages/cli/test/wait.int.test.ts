import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { localMachineSource } from "@stackseam/state-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli } from "../../../test/e2e/dev-harness.js";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import {
  completed,
  deliver,
  event,
  FIXTURES,
  manager,
  mustGetStack,
  recordFromMessage,
  sqsRecord,
  tokenOf,
} from "../../state-manager/test/helpers.js";
import { BIN, terminalEnv } from "./support/cli.js";

// `stackseam wait` and `send --wait`, the real binary against real Postgres, with the stack driven
// by the real State Manager (records delivered to its handler, as the Lambda event source would).

interface Waiting {
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr matches (the wait has read the stack and sleeps on LISTEN). */
  printed(pattern: RegExp): Promise<void>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

describe("stackseam wait: exit codes a pipeline can branch on", { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let aws: TestAws;
  let m: ReturnType<typeof manager>;

  beforeAll(async () => {
    await buildCli();
    database = await createTestDatabase();
    aws = await startTestAws();
    m = manager(database.url, aws.sqs, aws.taskQueueUrl);
  });
  afterAll(async () => {
    await m?.close();
    await aws?.stop();
    await database?.drop();
  });

  /** Starts `stackseam <args>` against the test database; it keeps running until it exits. */
  function start(args: string[], env: Record<string, string | undefined> = {}): Waiting {
    const child = spawn(process.execPath, [BIN, ...args, "--database-url", database.url], {
      env: terminalEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const listeners = new Set<() => void>();
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
      for (const l of listeners) l();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return {
      stdout: () => out,
      stderr: () => err,
      printed: (pattern) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (pattern.test(err)) {
              listeners.delete(check);
              resolve();
            }
          };
          listeners.add(check);
          void exited.then(() => {
            if (!pattern.test(err)) reject(new Error(`exited before printing ${pattern}:\n${err}${out}`));
          });
          check();
        }),
      exited,
      kill: (signal) => child.kill(signal),
    };
  }

  /** Runs to completion; a wait that did not return on its own would hit the test's hang guard. */
  async function run(args: string[], env: Record<string, string | undefined> = {}) {
    const w = start(args, env);
    const code = await w.exited;
    return { code, stdout: w.stdout(), stderr: w.stderr() };
  }

  const launch = (id: string, key: string) =>
    deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "qa-env", eventId: key })));
  const complete = async (id: string, task: string) =>
    deliver(m.sm, sqsRecord(completed(id, task, tokenOf(await mustGetStack(m.db, id), task))));
  const toRun = async (id: string) => {
    await launch(id, `launch-${id}`);
    await complete(id, "apply-infra");
    await complete(id, "seed-data");
  };

  it("0: follows LAUNCH through PROVISION to RUN, printing each step on stderr as it happens", async () => {
    await launch("s-ok", "launch-ok");
    const w = start(["wait", "s-ok", "--event-id", "launch-ok", "--state", "RUN"]);
    await w.printed(
      /waiting: in PROVISION, tasks unfinished: apply-infra \(attempt 1\), seed-data \(attempt 1\)/,
    );
    await complete("s-ok", "apply-infra");
    await w.printed(/✓ apply-infra \(attempt 1\)/);
    await complete("s-ok", "seed-data");
    expect(await w.exited).toBe(0);
    expect(w.stdout()).toMatch(/^s-ok settled in RUN \(/);
    const lines = w.stderr().split("\n");
    const at = (pattern: RegExp) => lines.findIndex((l) => pattern.test(l));
    const order = [
      /^\S+Z {2}INIT → PROVISION {2}on LAUNCH$/,
      /▸ apply-infra started \(attempt 1\)$/,
      /▸ seed-data started \(attempt 1\)$/,
      /✓ apply-infra \(attempt 1\)$/,
      /✓ seed-data \(attempt 1\)$/,
      /PROVISION → RUN {2}on TASK_COMPLETED$/,
    ].map(at);
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it("0 at once when the stack is already settled; --quiet prints no progress", async () => {
    await toRun("s-done");
    // Nothing happens to s-done from here on: only returning at once lets these exit 0.
    const plain = await run(["wait", "s-done", "--quiet"]);
    expect(plain).toMatchObject({ code: 0, stderr: "" });
    expect(plain.stdout).toMatch(/^s-done settled in RUN/);
    expect(
      (await run(["wait", "s-done", "--state", "RUN", "--event-id", "launch-s-done", "--quiet"])).code,
    ).toBe(0);
    const json = await run(["wait", "s-done", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      stackId: "s-done",
      result: "settled",
      exitCode: 0,
      state: "RUN",
      event: null,
      failed: [],
    });
  });

  it("waits for a stack that does not exist yet", async () => {
    const w = start(["wait", "s-later", "--state", "RUN"]);
    await w.printed(/waiting: the stack does not exist yet/);
    await toRun("s-later");
    expect(await w.exited).toBe(0);
  });

  it("3: a task failed — the task, its attempt and the first Error: line; --full prints it all", async () => {
    await launch("s-fail", "launch-fail");
    const w = start(["wait", "s-fail", "--event-id", "launch-fail"]);
    await w.printed(/waiting: in PROVISION/);
    const description = [
      "terraform apply failed (exit code 1)",
      "╷",
      "│ Warning: Argument is deprecated",
      "│ Use the aws_s3_bucket_acl resource instead",
      "╵",
      "╷",
      "│ Error: Invalid reference",
      "│   on main.tf line 3:",
      "╵",
    ].join("\n");
    const stack = await mustGetStack(m.db, "s-fail");
    await deliver(
      m.sm,
      sqsRecord(
        event("s-fail", "TASK_ERROR", {
          task: "apply-infra",
          token: tokenOf(stack, "apply-infra"),
          description,
        }),
      ),
    );
    expect(await w.exited).toBe(3);
    const summary = "terraform apply failed (exit code 1): Error: Invalid reference";
    expect(w.stdout()).toContain(`s-fail: task apply-infra failed in PROVISION (attempt 1): ${summary}\n`);
    expect(w.stdout()).not.toContain("Warning");
    expect(w.stderr()).toContain(`✗ apply-infra (attempt 1) failed: ${summary}`);

    // It fails at once from now on (the other task still runs, but the state cannot complete).
    const full = await run(["wait", "s-fail", "--full", "--quiet"]);
    expect(full.code).toBe(3);
    expect(full.stdout).toContain("    │ Warning: Argument is deprecated\n");
    expect(full.stdout).toContain("    │   on main.tf line 3:\n");

    // A retry is a new attempt: followed, it fails again as attempt 2.
    await deliver(m.sm, sqsRecord(event("s-fail", "RETRY_FAILED_TASKS", { eventId: "retry-1" })));
    const again = start(["wait", "s-fail", "--event-id", "retry-1"]);
    await again.printed(/waiting: in PROVISION/);
    const retried = await mustGetStack(m.db, "s-fail");
    await deliver(
      m.sm,
      sqsRecord(
        event("s-fail", "TASK_ERROR", {
          task: "apply-infra",
          token: tokenOf(retried, "apply-infra"),
          description: "Error: still broken",
        }),
      ),
    );
    expect(await again.exited).toBe(3);
    expect(again.stdout()).toContain("task apply-infra failed in PROVISION (attempt 2): Error: still broken");
  });

  it("4: the stack was removed; --state removed makes that the goal (0)", async () => {
    await toRun("s-gone");
    await deliver(m.sm, sqsRecord(event("s-gone", "DESTROY", { eventId: "destroy-gone" })));
    const w = start(["wait", "s-gone", "--event-id", "destroy-gone"]);
    const goal = start(["wait", "s-gone", "--state", "removed"]);
    await w.printed(/waiting: in TEARDOWN, tasks unfinished: destroy-infra/);
    await goal.printed(/waiting: in TEARDOWN/);
    await complete("s-gone", "destroy-infra");
    expect(await w.exited).toBe(4);
    expect(w.stdout()).toMatch(/^s-gone was removed: TEARDOWN → removed on TASK_COMPLETED at \S+Z\n$/);
    expect(w.stderr()).toContain("TEARDOWN → removed  on TASK_COMPLETED");
    expect(await goal.exited).toBe(0);
    expect(goal.stdout()).toMatch(/^s-gone removed/);
    expect((await run(["wait", "s-gone", "--quiet"])).code).toBe(4);
  });

  it("5: timed out, saying what it was still waiting for", async () => {
    await launch("s-slow", "launch-slow");
    const r = await run(["wait", "s-slow", "--timeout", "1s"]);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(
      /^s-slow: timed out after [\d.]+ s: in PROVISION, tasks unfinished: apply-infra \(attempt 1\), seed-data \(attempt 1\)\n$/,
    );
    await toRun("s-elsewhere");
    const elsewhere = await run(["wait", "s-elsewhere", "--state", "TEARDOWN", "--timeout", "1"]);
    expect(elsewhere.code).toBe(5);
    expect(elsewhere.stdout).toContain("settled in RUN, waiting for TEARDOWN");
  });

  it("6: the followed event was refused — processed before or after the wait started", async () => {
    await toRun("s-ref");
    await deliver(m.sm, sqsRecord(event("s-ref", "LAUNCH", { machine: "qa-env", eventId: "again" })));
    const before = await run(["wait", "s-ref", "--event-id", "again"]);
    expect(before.code).toBe(6);
    expect(before.stdout).toMatch(/^s-ref: LAUNCH \(event again\) was refused in RUN: .*LAUNCH/);

    const w = start(["wait", "s-ref", "--event-id", "later"]);
    await w.printed(/waiting: event later has not been processed yet/);
    await deliver(m.sm, sqsRecord(event("s-ref", "LAUNCH", { machine: "qa-env", eventId: "later" })));
    expect(await w.exited).toBe(6);
    expect(w.stderr()).toMatch(/refused LAUNCH in RUN: /);
    // A plain wait follows no event: the same stack is simply settled.
    expect((await run(["wait", "s-ref", "--quiet"])).code).toBe(0);
  });

  it("a failed attempt with a retry scheduled is not an outcome: it waits, then 3 once no retry is left", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stackseam-wait-specs-"));
    await writeFile(
      join(dir, "retrying.yml"),
      `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    terminal: true
tasks:
  apply:
    executor: lambda
    config: { name: apply }
    retry: { attempts: 2, delay: 1h }
`,
    );
    const r = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines: localMachineSource({ dir }) });
    try {
      await deliver(r.sm, sqsRecord(event("s-retry", "LAUNCH", { machine: "retrying" })));
      const fail = async (description: string) => {
        const stack = await mustGetStack(r.db, "s-retry");
        await deliver(
          r.sm,
          sqsRecord(
            event("s-retry", "TASK_ERROR", { task: "apply", token: tokenOf(stack, "apply"), description }),
          ),
        );
      };
      await fail("Error: first try");
      const due = (await mustGetStack(r.db, "s-retry")).tasks[0]?.retryAt;
      expect(due).toBeDefined();
      const pending = await run(["wait", "s-retry", "--timeout", "1s", "--quiet"]);
      expect(pending.code).toBe(5);
      expect(pending.stdout).toContain(`tasks unfinished: apply (attempt 1 failed; retry at ${due})`);

      // The retry, dispatched early by hand, fails too: no attempt is left.
      await deliver(r.sm, sqsRecord(event("s-retry", "RETRY_FAILED_TASKS")));
      const w = start(["wait", "s-retry"]);
      await w.printed(/waiting: in PROVISION, tasks unfinished: apply \(attempt 2\)/);
      await fail("Error: second try");
      expect(await w.exited).toBe(3);
      expect(w.stdout()).toContain("task apply failed in PROVISION (attempt 2): Error: second try");
    } finally {
      await r.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("130: interrupted by Ctrl-C, saying what it was waiting for", async () => {
    await launch("s-int", "launch-int");
    const w = start(["wait", "s-int"]);
    await w.printed(/waiting: in PROVISION/);
    w.kill("SIGINT");
    expect(await w.exited).toBe(130);
    expect(w.stdout()).toMatch(/^s-int: interrupted after .*: in PROVISION, tasks unfinished/);
  });

  it("2: usage errors (a lower-case state, a bad timeout, wait options without --wait)", async () => {
    const lower = await run(["wait", "s-ok", "--state", "run"]);
    expect(lower.code).toBe(2);
    expect(lower.stderr).toContain("did you mean RUN?");
    expect((await run(["wait", "s-ok", "--timeout", "soon"])).code).toBe(2);
    // A state the stack's machine does not have would never come: refused at once.
    const typo = await run(["wait", "s-ok", "--state", "RUNN"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('--state RUNN: machine qa-env has no such state (did you mean "RUN"?)');
    expect((await run(["wait", "not a stack id"])).code).toBe(2);
    const send = await run(["send", "s-ok", "TOUCH", "--state", "RUN", "--no-check"]);
    expect(send.code).toBe(2);
    expect(send.stderr).toContain("--state goes with --wait");
  });

  it("send --wait: sends, then follows that very event (its SQS message id) to the end", async () => {
    const w = start(
      ["send", "s-send", "LAUNCH", "--machine", "qa-env", "--specs", FIXTURES, "--wait", "--state", "RUN"],
      { ...aws.env, SQS_EVENT_QUEUE_URL: aws.eventQueueUrl },
    );
    await w.printed(/waiting: event \S+ has not been processed yet/);
    // The Lambda event source's part: receive the message and hand it to the handler.
    let received: Message[] = [];
    while (received.length === 0) {
      const res = await aws.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: aws.eventQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      received = res.Messages ?? [];
    }
    await deliver(m.sm, ...received.map(recordFromMessage));
    await complete("s-send", "apply-infra");
    await complete("s-send", "seed-data");
    expect(await w.exited).toBe(0);
    const [messageId, outcome] = w.stdout().split("\n");
    expect(messageId).toBe(received[0]?.MessageId);
    expect(outcome).toMatch(/^s-send settled in RUN/);
    expect(w.stderr()).toContain("INIT → PROVISION  on LAUNCH");
  });
});
