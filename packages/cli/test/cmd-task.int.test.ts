// `stackseam task run` in-process (docs/cli.md "task run"): a stack whose state has no task, a
// machine whose current spec is invalid, and a Lambda task that cannot be invoked (exit 1, with the
// hint to run it from a local folder).
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
events: [LAUNCH]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: WORK }] } }
  WORK: { tasks: [build], on: { NEXT: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
tasks:
  build: { executor: lambda, config: { name: build-fn } }
`;

describe("stackseam task run: stacks without tasks, invalid specs, Lambda unreachable", {
  timeout: 60_000,
}, () => {
  let db: TestDatabase;
  let work: string;
  let specs: string;
  const runTask = (...args: string[]) => runInProcess(task, ["run", ...args]);

  beforeAll(async () => {
    db = await createTestDatabase();
    work = await mkdtemp(join(tmpdir(), "stackseam-cmd-task-"));
    specs = join(work, "specs");
    await mkdir(specs);
    await writeFile(join(specs, "work.yml"), SPEC);
    // A spec of machine "broken" that does not compile (an advance to a state it lacks).
    await writeFile(join(specs, "broken.yml"), SPEC.replace("state: DONE", "state: NOWHERE"));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO stacks (id, machine, state, metadata, tasks) VALUES
           ('idle-1', 'work', 'DONE', '{}', '[]'),
           ('broken-1', 'broken', 'WORK', '{}', '[{"name": "build", "status": "PENDING", "token": "tok-1", "attempt": 1}]')`,
      );
    } finally {
      await client.end();
    }
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    for (const name of ["DATABASE_URL", "SQS_EVENT_QUEUE_URL", "MACHINE_SPEC_DIR", "MACHINE_S3_BUCKET"])
      vi.stubEnv(name, undefined);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await db?.drop();
    if (work) await removeDir(work);
  });

  it("a stack whose state runs no task: exit 1, its tasks are none", async () => {
    const r = await runTask(
      "--stack",
      "idle-1",
      "--task",
      "build",
      "--database-url",
      db.url,
      "--specs",
      specs,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "stackseam task run: stack idle-1 is in state DONE, whose tasks are: none; build is not one of them\n",
    );
  });

  it("a machine whose spec is invalid: exit 1, why, and where the spec is", async () => {
    const r = await runTask(
      "--stack",
      "broken-1",
      "--task",
      "build",
      "--database-url",
      db.url,
      "--specs",
      specs,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^stackseam task run: .*NOWHERE.* \\(in ${specs}\\)\\n$`));
  });

  it("a Lambda that cannot be reached: exit 1, with the hint to use --functions", async () => {
    const msg = join(work, "build.json");
    await writeFile(
      msg,
      JSON.stringify({
        stackId: "w-1",
        machine: "work",
        state: "WORK",
        task: "build",
        executor: "lambda",
        config: { name: "build-fn" },
        metadata: {},
        token: "tok-9",
        attempt: 1,
      }),
    );
    // Nothing listens on port 1: the invoke fails at once.
    vi.stubEnv("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
    vi.stubEnv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:1");
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
    vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
    try {
      const r = await runTask(msg, "--no-send");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("stackseam task run: the task could not run: ");
      expect(r.stderr).toContain("  (to run the function from a local folder instead: --functions DIR)\n");
    } finally {
      for (const name of [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_MAX_ATTEMPTS",
      ])
        vi.stubEnv(name, undefined);
    }
  });
});
