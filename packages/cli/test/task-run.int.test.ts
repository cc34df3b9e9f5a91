// `stackseam task run` in-process, for what docs/cli.md promises: the report on stdout, a failure's
// Error: line on stderr, --dry-run, --no-send, --stack/--task built from the database and specs, and
// the exit codes ("0 TASK_COMPLETED (or a dry run), 1 TASK_ERROR, the task could not run, the report
// could not be sent, or the stack or task was not found, 2 usage error or an invalid task message").
// small-gaps.int.test.ts runs it through the bin next to a dev.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as task } from "../src/commands/task.js";
import { runInProcess } from "./support/in-process.js";

const SPEC = `version: 1
events: [GO]
states:
  INIT: { on: { GO: [{ action: advance, state: WORK }] } }
  WORK: { tasks: [build], on: { NEXT: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
tasks:
  build: { executor: lambda, config: { name: build-fn } }
`;

const message = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    stackId: "tr-1",
    machine: "work",
    state: "WORK",
    task: "build",
    executor: "lambda",
    config: { name: "build-fn" },
    metadata: { colour: "blue" },
    token: "manual-1",
    attempt: 1,
    ...over,
  });

describe("stackseam task run, in-process", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let work: string;
  let functions: string;
  let specs: string;
  const file = (name: string) => join(work, name);
  const runTask = (...args: string[]) => runInProcess(task, ["run", ...args]);

  beforeAll(async () => {
    db = await createTestDatabase();
    work = await mkdtemp(join(tmpdir(), "stackseam-task-run-"));
    functions = join(work, "functions");
    specs = join(work, "specs");
    await mkdir(functions);
    await mkdir(specs);
    await writeFile(join(specs, "work.yml"), SPEC);
    await writeFile(
      join(functions, "build-fn.mjs"),
      "export async function handler({ stackId, metadata }) { return { outputs: { built: stackId + '-' + metadata.colour } }; }\n",
    );
    await writeFile(
      join(functions, "broken-fn.mjs"),
      'export async function handler() { throw new Error("missing semicolon on line 3"); }\n',
    );
    await writeFile(file("ok.json"), message());
    await writeFile(file("fails.json"), message({ config: { name: "broken-fn" } }));
    await writeFile(file("invalid.json"), message({ token: undefined }));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO stacks (id, machine, state, metadata, tasks) VALUES
           ('tr-db', 'work', 'WORK', '{"colour": "green"}', '[{"name": "build", "status": "PENDING", "token": "tok-7", "attempt": 3}]'),
           ('tr-alien', 'alien', 'WORK', '{}', '[{"name": "build", "status": "PENDING", "token": "tok-8", "attempt": 1}]')`,
      );
    } finally {
      await client.end();
    }
    // No dev, no queue, no specs from the environment.
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    for (const name of ["DATABASE_URL", "SQS_EVENT_QUEUE_URL", "MACHINE_SPEC_DIR", "MACHINE_S3_BUCKET"])
      vi.stubEnv(name, undefined);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await db?.drop();
    if (work) await removeDir(work);
  });

  it("prints the report of a completed task; with no queue configured it says the report was not sent", async () => {
    const r = await runTask(file("ok.json"), "--functions", functions);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      stackId: "tr-1",
      event: "TASK_COMPLETED",
      task: "build",
      token: "manual-1",
    });
    expect(JSON.stringify(report)).toContain("tr-1-blue");
    expect(r.stderr).toContain(
      "report not sent (no event queue configured: --queue-url or SQS_EVENT_QUEUE_URL)",
    );
    const quiet = await runTask(file("ok.json"), "--functions", functions, "--no-send");
    expect(quiet.stderr).toContain("report not sent (--no-send)");
  });

  it("a failed task: the report on stdout, its Error: line on stderr, exit 1", async () => {
    const r = await runTask(file("fails.json"), "--functions", functions, "--no-send");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ event: "TASK_ERROR", task: "build" });
    expect(r.stderr).toMatch(/\nstackseam: task build failed: .*Error: missing semicolon on line 3\n/);
  });

  it("--dry-run prints the invocation and runs nothing", async () => {
    const r = await runTask(file("fails.json"), "--dry-run", "--functions", functions);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { dryRun: boolean; ok: boolean };
    expect(plan).toMatchObject({ dryRun: true, ok: true });
    expect(r.stdout).toContain("broken-fn");
  });

  it("reads the message from stdin with -", async () => {
    const stdin = vi
      .spyOn(process, "stdin", "get")
      .mockReturnValue(
        (await import("node:stream")).Readable.from([
          Buffer.from(message()),
        ]) as unknown as typeof process.stdin,
      );
    try {
      const r = await runTask("-", "--dry-run");
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true });
    } finally {
      stdin.mockRestore();
    }
  });

  it("--stack --task builds the message the engine dispatched: that token, attempt and the stack's metadata", async () => {
    const r = await runTask(
      "--stack",
      "tr-db",
      "--task",
      "build",
      "--database-url",
      db.url,
      "--specs",
      specs,
      "--functions",
      functions,
      "--no-send",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("task build of stack tr-db (state WORK, attempt 3, token tok-7)");
    expect(JSON.parse(r.stdout)).toMatchObject({ stackId: "tr-db", token: "tok-7", event: "TASK_COMPLETED" });
    expect(r.stdout).toContain("tr-db-green");
  });

  it("--stack --task: 1 for an unknown stack, a task not in its state, a machine without a spec; 2 without a database or specs", async () => {
    const db_ = ["--database-url", db.url];
    const nobody = await runTask("--stack", "nobody", "--task", "build", ...db_, "--specs", specs);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain("stack nobody does not exist (never created, or removed)");
    const other = await runTask("--stack", "tr-db", "--task", "deploy", ...db_, "--specs", specs);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(
      "stack tr-db is in state WORK, whose tasks are: build (PENDING); deploy is not one of them",
    );
    const alien = await runTask("--stack", "tr-alien", "--task", "build", ...db_, "--specs", specs);
    expect(alien.code).toBe(1);
    expect(alien.stderr).toContain(`no spec for machine alien (in ${specs})`);
    const noSpecs = await runTask("--stack", "tr-db", "--task", "build", ...db_);
    expect(noSpecs.code).toBe(2);
    expect(noSpecs.stderr).toContain("--stack needs the specs");
    const noDb = await runTask("--stack", "tr-db", "--task", "build", "--specs", specs);
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain("--stack needs the database");
  });

  it("2 for usage errors and for a message that cannot be read or is invalid", async () => {
    const cases: [string[], string][] = [
      [["--stack", "tr-db"], "--stack and --task go together"],
      [
        ["x.json", "--stack", "a", "--task", "b"],
        "give either a task message file or --stack and --task, not both",
      ],
      [[], "give exactly one task message file (or - for stdin)"],
      [["a.json", "b.json"], "give exactly one task message file"],
      [[file("ok.json"), "--timeout", "0"], "--timeout must be a positive number of seconds"],
      [[file("missing.json")], `cannot read ${file("missing.json")}: ENOENT`],
      [[file("invalid.json")], `${file("invalid.json")} is not a valid task message:`],
      [["--bogus"], "--bogus"],
    ];
    for (const [args, reason] of cases) {
      const r = await runTask(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(reason);
    }
    const unknown = await runInProcess(task, ["walk"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('stackseam task: unknown subcommand "walk"');
    expect((await runInProcess(task, [])).stderr).toContain("stackseam task: missing subcommand");
    expect((await runInProcess(task, ["help"])).code).toBe(0);
    expect((await runTask("--help")).stdout).toContain("Usage: stackseam task run");
  });
});
