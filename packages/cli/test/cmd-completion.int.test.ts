// What a TAB offers (docs/cli.md "completion") in the cases the other completion tests leave out:
// an empty line, --opt=value for the machine, options the command does not have, a line with
// --queue-url on it, and a machine asked for where no specs are to be found.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SYSTEM_EVENTS } from "@stackseam/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { complete } from "../src/completion/candidates.js";

const BUILD = `version: 1
events: [COMPILE]
states:
  INIT: { on: { COMPILE: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
`;

describe("completion candidates, more cases", { timeout: 60_000 }, () => {
  let work: string;
  let specs: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "stackseam-cmd-complete-"));
    specs = join(work, "specs");
    await mkdir(specs);
    await writeFile(join(specs, "build.yml"), BUILD);
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    for (const name of ["DATABASE_URL", "SQS_EVENT_QUEUE_URL", "MACHINE_SPEC_DIR", "MACHINE_S3_BUCKET"])
      vi.stubEnv(name, undefined);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    if (work) await removeDir(work);
  });

  const words = async (line: string[]) => {
    const c = await complete(line);
    if (!("words" in c)) throw new Error(`expected words, got ${JSON.stringify(c)}`);
    return c.words;
  };
  const buildEvents = [...new Set(["COMPILE", ...SYSTEM_EVENTS])].sort();

  it("an empty line offers the commands", async () => {
    const all = await words([]);
    for (const c of [
      "validate",
      "graph",
      "migrate",
      "send",
      "wait",
      "stacks",
      "timers",
      "tick",
      "specs",
      "task",
    ])
      expect(all).toContain(c);
  });

  it("reads --machine=M written in one word", async () => {
    expect(await words(["send", "new-1", "--machine=build", "--specs", specs, ""])).toEqual(buildEvents);
  });

  it("a line with --queue-url still reads the machine's events from --specs", async () => {
    expect(
      await words([
        "send",
        "new-1",
        "--queue-url",
        "http://127.0.0.1:1/q",
        "--machine",
        "build",
        "--specs",
        specs,
        "",
      ]),
    ).toEqual(buildEvents);
  });

  it("options the command does not have take no value: the next word is a positional", async () => {
    expect(await complete(["graph", "-x", ""])).toEqual({ paths: "files" });
    expect(await complete(["graph", "--colour", ""])).toEqual({ paths: "files" });
    expect(await complete(["graph", "-", ""])).toEqual({ paths: "files" });
  });

  it("no specs and no database anywhere: no machines to offer", async () => {
    expect(await words(["send", "new-1", "--machine", ""])).toEqual([]);
  });
});
