import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHistory, localMachineSource } from "@stackseam/state-manager";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { deliver, drainTasks, event, manager, mustGetStack, sqsRecord, tokenOf } from "./helpers.js";

/** A build machine; `state` names its working state and `task` its task, so versions can rename them. */
const spec = (task: string, state = "BUILD", extra = "") => `version: 1
${extra}
events: [LAUNCH, SHIP, POKE]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: ${state} }]
  ${state}:
    tasks: [${task}]
    on:
      NEXT: [{ action: advance, state: READY }]
  READY:
    on:
      POKE: [{ action: no-op }]
      SHIP: [{ action: advance, state: SHIPPING }]
  SHIPPING:
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

describe("machine versions: a stack keeps the machine it started with", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dir: string;
  let m: ReturnType<typeof manager>;
  let source: ReturnType<typeof localMachineSource>;
  let bump = 0;

  /** Replaces the spec file and rescans the folder, as dev's watcher does on a change. */
  async function push(text: string): Promise<void> {
    const file = join(dir, "build.yml");
    await writeFile(file, text);
    const later = new Date(Date.now() + 5_000 + ++bump * 1000);
    await utimes(file, later, later);
    await source?.refresh();
  }

  const versionOf = async (id: string) => (await mustGetStack(m.db, id)).version;

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    dir = await mkdtemp(join(tmpdir(), "stackseam-versions-"));
    await push(spec("compile"));
    source = localMachineSource({ dir });
    m = manager(database.url, aws.sqs, aws.taskQueueUrl, { machines: source });
  });
  afterAll(async () => {
    await m?.close();
    await aws?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("finishes its journey on v1 after v2 renames its state and task, and after a broken push", async () => {
    await push(spec("compile"));
    const id = "pinned-1";
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "build" })));
    const v1 = await versionOf(id);
    const token = tokenOf(await mustGetStack(m.db, id), "compile");

    await push(spec("compile-v2", "COMPILE"));
    // A report for the v1 dispatch is decided by v1, whatever the current spec says.
    await deliver(
      m.sm,
      sqsRecord({ stackId: id, event: "TASK_ERROR", task: "compile", token, description: "boom" }),
    );
    await deliver(m.sm, sqsRecord(event(id, "RETRY_FAILED_TASKS")));
    const retried = await mustGetStack(m.db, id);
    expect(retried).toMatchObject({ state: "BUILD", version: v1 });
    expect(retried.tasks[0]).toMatchObject({ name: "compile", status: "PENDING", attempt: 2 });

    // A push that does not even parse stops nothing either.
    await push("version: 1\nstates: [this is not a spec\n");
    await deliver(
      m.sm,
      sqsRecord({
        stackId: id,
        event: "TASK_COMPLETED",
        task: "compile",
        token: tokenOf(retried, "compile"),
      }),
    );
    expect(await mustGetStack(m.db, id)).toMatchObject({ state: "READY", version: v1 });

    // The v1 row is what the database keeps for it.
    const stored = await m.db
      .selectFrom("machine_versions")
      .select(["version", "source"])
      .where("machine", "=", "build")
      .execute();
    expect(stored.map((r) => r.version)).toContain(v1);
    expect(stored.find((r) => r.version === v1)?.source).toBe(spec("compile"));
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });

  it("upgrades on request when compatible, and refuses with the reasons when not", async () => {
    await push(spec("compile"));
    await deliver(m.sm, sqsRecord(event("up-ready", "LAUNCH", { machine: "build" })));
    await deliver(m.sm, sqsRecord(event("up-busy", "LAUNCH", { machine: "build" })));
    const ready = await mustGetStack(m.db, "up-ready");
    await deliver(
      m.sm,
      sqsRecord({
        stackId: "up-ready",
        event: "TASK_COMPLETED",
        task: "compile",
        token: tokenOf(ready, "compile"),
      }),
    );
    const v1 = await versionOf("up-ready");

    // v2 renames BUILD and the task: a stack in READY can move, one in BUILD with compile pending cannot.
    await push(spec("compile-v2", "COMPILE"));
    await deliver(m.sm, sqsRecord(event("up-ready", "UPGRADE_MACHINE", { machine: "build" })));
    const v2 = await versionOf("up-ready");
    expect(v2).not.toBe(v1);
    const upgraded = (await getHistory(m.db, "up-ready")).at(-1);
    expect(upgraded).toMatchObject({ event: "UPGRADE_MACHINE", outcome: "applied" });
    expect(upgraded?.detail?.upgraded).toEqual({ from: v1, to: v2 });

    await deliver(m.sm, sqsRecord(event("up-busy", "UPGRADE_MACHINE", { machine: "build" })));
    const refused = (await getHistory(m.db, "up-busy")).at(-1);
    expect(refused?.outcome).toBe("refused");
    expect(refused?.reason).toContain("state BUILD does not exist in version");
    expect(refused?.reason).toContain("task compile (PENDING) is not defined in version");
    expect(await versionOf("up-busy")).toBe(v1);

    // The upgraded stack now runs v2: SHIP dispatches v2's task.
    await drainTasks(aws.sqs, aws.taskQueueUrl);
    await deliver(m.sm, sqsRecord(event("up-ready", "SHIP")));
    const tasks = await drainTasks(aws.sqs, aws.taskQueueUrl);
    expect(tasks.map((t) => t.task)).toEqual(["compile-v2"]);
  });

  it("moves to the newest version at its next state entry when that version says upgrade: on-state-entry", async () => {
    await push(spec("compile"));
    const id = "auto-1";
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "build" })));
    const v1 = await versionOf(id);
    await push(spec("compile-v3", "BUILD", "upgrade: on-state-entry"));
    // A touch enters no state: the stack stays on v1 (and builds v3's messages nowhere).
    const before = await mustGetStack(m.db, id);
    await deliver(
      m.sm,
      sqsRecord({ stackId: id, event: "TASK_COMPLETED", task: "compile", token: tokenOf(before, "compile") }),
    );
    const after = await mustGetStack(m.db, id);
    expect(after.state).toBe("READY");
    expect(after.version).not.toBe(v1);
    const rows = await getHistory(m.db, id);
    expect(rows.at(-1)).toMatchObject({ event: "UPGRADE_MACHINE", outcome: "applied" });
    expect(rows.at(-1)?.detail?.upgraded).toEqual({ from: v1, to: after.version });
    await drainTasks(aws.sqs, aws.taskQueueUrl);
    await deliver(m.sm, sqsRecord(event(id, "SHIP")));
    expect((await drainTasks(aws.sqs, aws.taskQueueUrl)).map((t) => t.task)).toEqual(["compile-v3"]);
  });

  it("pins a stack created before versions to the current version at its next event", async () => {
    await push(spec("compile"));
    const id = "legacy-1";
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "build" })));
    const pinned = await versionOf(id);
    await sql`UPDATE stacks SET version = NULL WHERE id = ${id}`.execute(m.db);
    await deliver(m.sm, sqsRecord(event(id, "POKE")));
    // POKE is not handled in BUILD: refused, and a refusal writes nothing, so it stays unpinned…
    expect((await getHistory(m.db, id)).at(-1)?.outcome).toBe("refused");
    const stack = await mustGetStack(m.db, id);
    await deliver(
      m.sm,
      sqsRecord({ stackId: id, event: "TASK_COMPLETED", task: "compile", token: tokenOf(stack, "compile") }),
    );
    // … until an applied event writes the stack with the version it was decided by.
    expect(await versionOf(id)).toBe(pinned);
    await drainTasks(aws.sqs, aws.taskQueueUrl);
  });
});
