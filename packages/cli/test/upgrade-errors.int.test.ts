// `stackseam stacks upgrade` when it cannot do its work, in-process: the exit codes docs/cli.md gives
// ("0 every stack upgraded or already current, 1 a stack cannot move, a send failed, or the current
// spec cannot be read, 2 usage error") for each reason, and --dry-run --json. The upgrades that go
// through are in stacks-upgrade.int.test.ts.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSpec } from "@stackseam/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as stacks } from "../src/commands/stacks.js";
import { runInProcess } from "./support/in-process.js";

const V1 = `version: 1
events: [GO]
states:
  INIT: { on: { GO: [{ action: advance, state: WORK }] } }
  WORK: { on: { GO: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
`;
// The current spec: WORK is gone, READY is new.
const V2 = `version: 1
events: [GO]
states:
  INIT: { on: { GO: [{ action: advance, state: READY }] } }
  READY: { on: { GO: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
`;
const v1 = parseSpec(V1, { name: "build" }).machine!.version;
const v2 = parseSpec(V2, { name: "build" }).machine!.version;

describe("stacks upgrade when it cannot upgrade", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let work: string;
  let specs: string;
  let empty: string;
  let broken: string;
  const upgrade = (...args: string[]) => runInProcess(stacks, ["upgrade", ...args]);

  beforeAll(async () => {
    db = await createTestDatabase();
    work = await mkdtemp(join(tmpdir(), "stackseam-upgrade-errors-"));
    specs = join(work, "specs");
    empty = join(work, "empty");
    broken = join(work, "broken");
    for (const d of [specs, empty, broken]) await mkdir(d);
    await writeFile(join(specs, "build.yml"), V2);
    await writeFile(join(broken, "build.yml"), "version: 1\nstates: {}\n");
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO stacks (id, machine, version, state, entry) VALUES
           ('mv-1', 'build', $1, 'INIT', 1),
           ('stuck-1', 'build', $1, 'WORK', 2),
           ('cur-1', 'build', $2, 'READY', 2),
           ('old-1', 'build', NULL, 'INIT', 1)`,
        [v1, v2],
      );
    } finally {
      await client.end();
    }
    // Nothing from the environment: no dev (an empty data dir), no queue, no specs.
    vi.stubEnv("STACKSEAM_DATA_DIR", empty);
    for (const name of [
      "DATABASE_URL",
      "SQS_EVENT_QUEUE_URL",
      "MACHINE_SPEC_DIR",
      "MACHINE_S3_BUCKET",
      "MACHINE_S3_KEY",
    ])
      vi.stubEnv(name, undefined);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await db?.drop();
    if (work) await removeDir(work);
  });

  const url = () => ["--database-url", db.url];

  it("--dry-run --json: the verdict of each stack, and exit 1 since one cannot move", async () => {
    const r = await upgrade("--machine", "build", "--dry-run", "--json", "--specs", specs, ...url());
    expect(r.code, r.stderr).toBe(1);
    const plans = JSON.parse(r.stdout) as {
      stack: { id: string };
      from: string | null;
      to: string;
      verdict: string;
      message?: { event: string; eventId: string };
    }[];
    const byId = Object.fromEntries(plans.map((p) => [p.stack.id, p]));
    expect(byId["mv-1"]).toMatchObject({
      from: v1,
      to: v2,
      verdict: "upgrade",
      message: { event: "UPGRADE_MACHINE", eventId: `upgrade:${v1}:${v2}:1:mv-1` },
    });
    expect(byId["stuck-1"]?.verdict).toBe("stranded");
    expect(byId["cur-1"]?.verdict).toBe("current");
    expect(byId["old-1"]).toMatchObject({ from: null, verdict: "unpinned" });
  });

  it("says what each stack would get, and 0 when every stack can move or is current", async () => {
    const r = await upgrade("cur-1", "--dry-run", "--specs", specs, ...url());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`machine build: current version ${v2} (from ${specs})`);
    expect(r.stdout).toMatch(/cur-1\s+build\s+READY\s+\S+\s+\S+\s+already runs it/);
    expect(r.stdout).toContain("0 would be upgraded, 1 already current, 0 cannot upgrade\n");
    const old = await upgrade("old-1", "--dry-run", "--specs", specs, ...url());
    expect(old.code).toBe(0);
    expect(old.stdout).toMatch(
      /old-1\s+build\s+INIT\s+\(none\)\s+\S+\s+no version yet: runs the current one/,
    );
    expect(old.stdout).toContain("1 without a version");
  });

  it("exits 1 when a send fails, saying so on the stack's row", async () => {
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
    vi.stubEnv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9");
    vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
    try {
      const queue = "http://127.0.0.1:9/000000000000/events";
      const r = await upgrade("mv-1", "--specs", specs, "--queue-url", queue, ...url());
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        /mv-1\s+build\s+INIT\s+\S+\s+\S+\s+not sent: could not send to http:\/\/127\.0\.0\.1:9/,
      );
      expect(r.stdout).toContain("0 upgrade(s) sent");
    } finally {
      vi.unstubAllEnvs();
      vi.stubEnv("STACKSEAM_DATA_DIR", empty);
      for (const name of ["DATABASE_URL", "SQS_EVENT_QUEUE_URL", "MACHINE_SPEC_DIR", "MACHINE_S3_BUCKET"])
        vi.stubEnv(name, undefined);
    }
  });

  it("exits 1 when the current spec cannot be read: none, not in the folder, or invalid", async () => {
    const none = await upgrade("mv-1", "--dry-run", ...url());
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(
      "stackseam stacks: no specs to read the current version from: pass --specs DIR",
    );
    const missing = await upgrade("mv-1", "--dry-run", "--specs", empty, ...url());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`holds no spec of machine build`);
    const invalid = await upgrade("mv-1", "--dry-run", "--specs", broken, ...url());
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(
      /the current spec of machine build is invalid \(.+\): nothing to upgrade to/,
    );
    expect(invalid.stdout).toBe("");
  });

  it("a stack that does not exist is 1; a machine without live stacks has nothing to do (0)", async () => {
    const gone = await upgrade("nobody", "--dry-run", "--specs", specs, ...url());
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe("stackseam stacks: stack nobody does not exist\n");
    const idle = await upgrade("--machine", "other", "--dry-run", "--specs", specs, ...url());
    expect(idle.code).toBe(0);
    expect(idle.stderr).toBe("stackseam stacks: no live stacks of machine other\n");
  });

  it("usage errors are 2: neither a stack nor --machine, no database, no event queue to send to", async () => {
    const neither = await upgrade("--dry-run", ...url());
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain("upgrade takes one stack id or --machine M (not both)");
    const noDb = await upgrade("mv-1", "--dry-run");
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain(
      "no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`",
    );
    const noQueue = await upgrade("mv-1", "--specs", specs, ...url());
    expect(noQueue.code).toBe(2);
    expect(noQueue.stderr).toContain("no event queue: pass --queue-url, set SQS_EVENT_QUEUE_URL");
  });
});
