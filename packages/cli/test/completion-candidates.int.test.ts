// What a TAB offers (docs/cli.md, "completion"), asked of the candidates in-process: the shells'
// wiring is in completion.int.test.ts; here the cases it does not reach — --specs and
// --database-url on the line, --opt=value, short options, states, the events of a stack's
// machine, `stacks list`, and a database that does not answer.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SYSTEM_EVENTS } from "@stackseam/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { complete } from "../src/completion/candidates.js";

const DEPLOY = `version: 1
events: [SHIP, HALT]
states:
  INIT: { on: { SHIP: [{ action: advance, state: LIVE }] } }
  LIVE: { on: { HALT: [{ action: advance, state: OFF }] } }
  OFF: { terminal: true }
`;
const BUILD = `version: 1
events: [COMPILE]
states:
  INIT: { on: { COMPILE: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
`;

describe("completion candidates", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let work: string;
  let specs: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    work = await mkdtemp(join(tmpdir(), "stackseam-complete-"));
    specs = join(work, "specs");
    await mkdir(specs);
    await writeFile(join(specs, "deploy.yml"), DEPLOY);
    await writeFile(join(specs, "build.yml"), BUILD);
    // A spec that does not validate offers nothing of its own.
    await writeFile(join(specs, "broken.yml"), "version: 1\nstates: {}\n");
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO stacks (id, machine, state) VALUES ('dep-1', 'deploy', 'LIVE'), ('legacy-1', 'legacy', 'PARKED')`,
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

  const words = async (line: string[]) => {
    const c = await complete(line);
    if (!("words" in c)) throw new Error(`expected words, got ${JSON.stringify(c)}`);
    return c.words;
  };

  it("offers machines from --specs and from the stacks of --database-url", async () => {
    expect(
      await words(["stacks", "list", "--specs", specs, "--database-url", db.url, "--machine", ""]),
    ).toEqual(["build", "deploy", "legacy"]);
    // --opt=value is one word: the value does not take the next one.
    expect(await words(["stacks", "list", `--specs=${specs}`, "--machine", ""])).toEqual(["build", "deploy"]);
  });

  it("offers states of every machine and of the live stacks", async () => {
    expect(
      await words(["stacks", "list", "--specs", specs, "--database-url", db.url, "--state", ""]),
    ).toEqual(["DONE", "INIT", "LIVE", "OFF", "PARKED"]);
  });

  it("offers the events of the stack's machine, from --machine or from its row, with the system events", async () => {
    const system = [...SYSTEM_EVENTS];
    const fromRow = await words(["send", "dep-1", "--specs", specs, "--database-url", db.url, ""]);
    expect(fromRow).toEqual([...new Set(["HALT", "SHIP", ...system])].sort());
    const fromFlag = await words(["send", "new-1", "--machine", "build", "--specs", specs, ""]);
    expect(fromFlag).toEqual([...new Set(["COMPILE", ...system])].sort());
    // An unknown machine: every machine's events.
    const all = await words(["send", "x", "--machine", "nope", "--specs", specs, ""]);
    expect(all).toEqual(expect.arrayContaining(["COMPILE", "HALT", "SHIP"]));
  });

  it("offers stack ids after a stack option and none for `stacks list`'s positional", async () => {
    expect(await words(["stacks", "list", "--database-url", db.url, "--after", ""])).toEqual([
      "dep-1",
      "legacy-1",
    ]);
    expect(await words(["stacks", "list", "--database-url", db.url, ""])).toEqual([]);
    expect(await words(["stacks", "show", "--database-url", db.url, ""])).toEqual(["dep-1", "legacy-1"]);
  });

  it("reads a short option's value, lets the shell complete files and folders, and offers nothing for free text", async () => {
    expect(await words(["graph", "-f", ""])).toEqual(["mermaid", "dot"]);
    expect(await complete(["graph", ""])).toEqual({ paths: "files" });
    expect(await complete(["stacks", "list", "--specs", ""])).toEqual({ paths: "dirs" });
    expect(await words(["stacks", "list", "--limit", ""])).toEqual([]);
    expect(await words(["nonsense", ""])).toEqual([]);
    expect(await words(["--v"])).toEqual(["--help", "--version"]);
    // Options already given are not offered again.
    expect(await words(["graph", "x.yml", "--format", "dot", "--"])).toEqual(["--help"]);
  });

  it("offers nothing from a database that does not answer", async () => {
    const missing = new URL(db.url);
    missing.pathname = "/stackseam_no_such_database";
    expect(await words(["stacks", "show", "--database-url", missing.toString(), ""])).toEqual([]);
  });
});
