// A stack is decided by the machine version it records (docs/state-manager.md, machine versions).
// A container that never saw that version (a cold Lambda, after the spec moved on) reads it from the
// machine_versions table; when the row is gone (pruned) or no longer reads as that version, the
// stack's events are refused saying what to do, and other stacks are not held up.
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHistory, localMachineSource } from "@stackseam/state-manager";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { deliver, drainTasks, event, manager, mustGetStack, sqsRecord, tokenOf } from "./helpers.js";

const spec = (task: string, state = "BUILD") => `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: ${state} }]
  ${state}:
    tasks: [${task}]
    on:
      NEXT: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  ${task}:
    executor: lambda
    config: { name: ${task} }
`;

describe("a cold container and a stack pinned to an older version", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dir: string;
  let bump = 0;
  const opened: { close(): Promise<void> }[] = [];

  async function push(text: string): Promise<void> {
    const file = join(dir, "build.yml");
    await writeFile(file, text);
    const later = new Date(Date.now() + 5_000 + ++bump * 1000);
    await utimes(file, later, later);
  }
  /** A new container: its own pool, its own caches, the folder as it is now. */
  function container() {
    const m = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines: localMachineSource({ dir }) });
    opened.push(m);
    return m;
  }
  /** Launches a stack on v1 and moves the spec on to v2; returns the stack's compile token and v1. */
  async function pinnedStack(id: string): Promise<{ token: string; v1: string }> {
    await push(spec("compile"));
    const m = container();
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "build" })));
    const stack = await mustGetStack(m.db, id);
    await push(spec("compile-v2", "COMPILE"));
    await drainTasks(aws.sqs, aws.taskQueueUrl);
    return { token: tokenOf(stack, "compile"), v1: stack.version ?? "" };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    dir = await mkdtemp(join(tmpdir(), "stackseam-cold-versions-"));
  });
  afterAll(async () => {
    for (const m of opened) await m.close();
    await aws?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reads the version from the machine_versions table and decides by it", async () => {
    const { token, v1 } = await pinnedStack("cold-1");
    const cold = container();
    await deliver(cold.sm, sqsRecord({ stackId: "cold-1", event: "TASK_COMPLETED", task: "compile", token }));
    // v1's BUILD → DONE: v2 has no state BUILD nor task compile, so only v1 could decide this.
    const rows = await getHistory(cold.db, "cold-1");
    expect(rows.filter((r) => r.outcome === "refused")).toEqual([]);
    expect(rows.at(-1)).toMatchObject({ outcome: "applied", to: "DONE" });
    expect(v1).not.toBe("");
  });

  it("refuses the events of a stack whose version was pruned, naming the way out", async () => {
    const { token, v1 } = await pinnedStack("pruned-1");
    await sql`DELETE FROM machine_versions WHERE machine = 'build' AND version = ${v1}`.execute(
      container().db,
    );
    const cold = container();
    await deliver(
      cold.sm,
      sqsRecord({ stackId: "pruned-1", event: "TASK_COMPLETED", task: "compile", token }),
    );
    const last = (await getHistory(cold.db, "pruned-1")).at(-1);
    expect(last?.outcome).toBe("refused");
    expect(last?.reason).toContain(
      `machine build version ${v1} is not in the machine_versions table, so stacks pinned to it cannot be decided; upgrade them (stackseam stacks upgrade)`,
    );
    expect((await mustGetStack(cold.db, "pruned-1")).state).toBe("BUILD");

    // Another stack of the same machine, on the current version, is not held up.
    await deliver(cold.sm, sqsRecord(event("fresh-1", "LAUNCH", { machine: "build" })));
    expect((await mustGetStack(cold.db, "fresh-1")).state).toBe("COMPILE");
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });

  it("refuses a stored version that no longer reads as itself, or as a spec at all", async () => {
    const { token: t1, v1 } = await pinnedStack("drift-1");
    // The stored text now reads as some other version (e.g. a release that reads specs differently).
    await sql`UPDATE machine_versions SET source = ${spec("other")} WHERE machine = 'build' AND version = ${v1}`.execute(
      container().db,
    );
    let cold = container();
    await deliver(
      cold.sm,
      sqsRecord({ stackId: "drift-1", event: "TASK_COMPLETED", task: "compile", token: t1 }),
    );
    let last = (await getHistory(cold.db, "drift-1")).at(-1);
    expect(last?.outcome).toBe("refused");
    expect(last?.reason).toMatch(
      new RegExp(`^machine build version ${v1} reads as version \\w+ with this release; upgrade its stacks`),
    );

    await sql`UPDATE machine_versions SET source = 'states: [unclosed' WHERE machine = 'build' AND version = ${v1}`.execute(
      container().db,
    );
    cold = container();
    await deliver(
      cold.sm,
      sqsRecord({ stackId: "drift-1", event: "TASK_COMPLETED", task: "compile", token: t1 }),
    );
    last = (await getHistory(cold.db, "drift-1")).at(-1);
    expect(last?.outcome).toBe("refused");
    expect(last?.reason).toMatch(/machine build has an invalid spec/);
  });
});
