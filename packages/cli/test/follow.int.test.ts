import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli } from "../../../test/e2e/dev-harness.js";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import {
  completed,
  deliver,
  event,
  manager,
  mustGetStack,
  sqsRecord,
  tokenOf,
} from "../../state-manager/test/helpers.js";
import { BIN, terminalEnv } from "./support/cli.js";

// `stacks history --follow` and `stacks show --watch`: the real binary prints what the real State
// Manager writes, as it writes it, until Ctrl-C.

describe("following a stack: history --follow, show --watch", { timeout: 120_000 }, () => {
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

  function start(args: string[]) {
    const child = spawn(process.execPath, [BIN, ...args, "--database-url", database.url], {
      env: terminalEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const listeners = new Set<() => void>();
    const changed = () => {
      for (const l of listeners) l();
    };
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      changed();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
      changed();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    /** Resolves once stdout (or stderr) matches; rejects with the output if the process exits first. */
    const printed = (pattern: RegExp, on: "stdout" | "stderr" = "stdout") =>
      new Promise<void>((resolve, reject) => {
        const text = () => (on === "stdout" ? out : err);
        const check = () => {
          if (pattern.test(text())) {
            listeners.delete(check);
            resolve();
          }
        };
        listeners.add(check);
        void exited.then(() => {
          if (!pattern.test(text())) reject(new Error(`exited before printing ${pattern}:\n${err}${out}`));
        });
        check();
      });
    return {
      stdout: () => out,
      stderr: () => err,
      printed,
      exited,
      kill: (s: NodeJS.Signals) => child.kill(s),
    };
  }

  const complete = async (id: string, task: string) =>
    deliver(m.sm, sqsRecord(completed(id, task, tokenOf(await mustGetStack(m.db, id), task))));

  it("history --follow prints the table, then each row as the State Manager writes it; Ctrl-C ends it with 0", async () => {
    await deliver(m.sm, sqsRecord(event("f-1", "LAUNCH", { machine: "qa-env" })));
    const f = start(["stacks", "history", "f-1", "--follow"]);
    await f.printed(/LAUNCH\s+applied\s+-\s+PROVISION/);
    expect(f.stdout()).toMatch(/^TIME\s+EVENT\s+OUTCOME\s+FROM\s+TO\s+DETAIL\n/);
    await complete("f-1", "apply-infra");
    await f.printed(/TASK_COMPLETED\s+applied\s+PROVISION\s+PROVISION/);
    await complete("f-1", "seed-data");
    await f.printed(/TASK_COMPLETED\s+applied\s+PROVISION\s+RUN/);
    await deliver(m.sm, sqsRecord(event("f-1", "FREEZE")));
    await f.printed(/FREEZE\s+refused\s+RUN/);
    f.kill("SIGINT");
    expect(await f.exited).toBe(0);
    // One header, then the rows in the order they were written, each printed once.
    const lines = f.stdout().trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("TIME"))).toHaveLength(1);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual([
      "LAUNCH",
      "TASK_COMPLETED",
      "TASK_COMPLETED",
      "FREEZE",
    ]);
  });

  it("history --follow --json prints one row per line, starting from a stack with no history yet", async () => {
    const f = start(["stacks", "history", "f-2", "--follow", "--json"]);
    await f.printed(/no history for stack f-2 yet; following it/, "stderr");
    await deliver(m.sm, sqsRecord(event("f-2", "LAUNCH", { machine: "qa-env" }), "launch-f-2"));
    await f.printed(/\n/);
    f.kill("SIGTERM");
    expect(await f.exited).toBe(0);
    const rows = f
      .stdout()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([
      expect.objectContaining({
        stackId: "f-2",
        event: "LAUNCH",
        eventKey: "launch-f-2",
        outcome: "applied",
      }),
    ]);
  });

  it("show --watch prints the stack again at each change, and its removal", async () => {
    await deliver(m.sm, sqsRecord(event("w-1", "LAUNCH", { machine: "qa-env" })));
    const w = start(["stacks", "show", "w-1", "--watch"]);
    await w.printed(/State\s+PROVISION/);
    await complete("w-1", "apply-infra");
    await w.printed(/Tasks\s+1\/2 satisfied/);
    await complete("w-1", "seed-data");
    await w.printed(/State\s+RUN/);
    await deliver(m.sm, sqsRecord(event("w-1", "DESTROY")));
    await w.printed(/State\s+TEARDOWN/);
    await complete("w-1", "destroy-infra");
    await w.printed(/stack w-1 does not exist/);
    w.kill("SIGINT");
    expect(await w.exited).toBe(0);
    const states = [...w.stdout().matchAll(/^State\s+(\S+)/gm)].map((x) => x[1]);
    expect(states).toEqual(["PROVISION", "PROVISION", "RUN", "TEARDOWN"]);
  });

  it("show --watch --json: one line per change, null once removed", async () => {
    await deliver(m.sm, sqsRecord(event("w-2", "LAUNCH", { machine: "qa-env" })));
    const w = start(["stacks", "show", "w-2", "--watch", "--json"]);
    await w.printed(/"state":"PROVISION"/);
    await complete("w-2", "apply-infra");
    await complete("w-2", "seed-data");
    await w.printed(/"state":"RUN"/);
    w.kill("SIGINT");
    expect(await w.exited).toBe(0);
    const seen = w
      .stdout()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { state: string; tasks: { status: string }[] });
    expect(seen.at(0)?.state).toBe("PROVISION");
    expect(seen.at(-1)?.state).toBe("RUN");
  });

  it("--follow and --watch belong to history and show", async () => {
    const a = start(["stacks", "show", "w-1", "--follow"]);
    expect(await a.exited).toBe(2);
    expect(a.stderr()).toContain("--follow is for `stacks history`");
    const b = start(["stacks", "list", "--watch"]);
    expect(await b.exited).toBe(2);
  });
});
