import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildCli,
  type DevProcess,
  eventually,
  removeDir,
  startDev,
  tempDataDir,
} from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { stackseam } from "./support/cli.js";

const SPEC = `version: 1
events: [LAUNCH]
states:
  INIT:
    on:
      LAUNCH:
        - action: advance
          state: PROVISION
  PROVISION:
    tasks: [apply-env]
    on:
      NEXT:
        - action: advance
          state: DONE
  DONE:
    terminal: true
tasks:
  apply-env:
    executor: lambda
    config:
      name: apply-env
`;

// A function that wraps Terraform and fails the way Terraform does: deprecation warnings first
// (well over the first few hundred characters), the error after them.
const WARNING = [
  "╷",
  "│ Warning: Argument is deprecated",
  "│ ",
  '│   with aws_s3_bucket.site, on main.tf line 12, in resource "aws_s3_bucket" "site":',
  '│   12:   acl = "private"',
  "│ ",
  "│ Use the aws_s3_bucket_acl resource instead",
  "╵",
];
const FUNCTION = `export async function handler() {
  const warnings = ${JSON.stringify(WARNING.join("\n"))};
  const err = new Error([
    "terraform apply failed (exit code 1)",
    warnings, warnings, warnings, warnings,
    "╷",
    "│ Error: Invalid reference",
    "│ ",
    "│   on main.tf line 3:",
    "│    3:   name = foo.bar",
    "╵",
  ].join("\\n"));
  err.name = "TerraformFailure";
  throw err;
}
`;

const SUMMARY =
  "Lambda function apply-env failed: TerraformFailure: terraform apply failed (exit code 1): Error: Invalid reference";

describe("reading a failure: the first Error: line everywhere, --full for all", { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let work: string;
  let dev: DevProcess;
  const env = () => ({ STACKSEAM_DATA_DIR: dataDir });

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    work = await tempDataDir();
    await mkdir(join(work, "specs"));
    await mkdir(join(work, "functions"));
    await writeFile(join(work, "specs", "tf-env.yml"), SPEC);
    await writeFile(join(work, "functions", "apply-env.mjs"), FUNCTION);
    dev = await startDev({
      dataDir,
      databaseUrl: db.url,
      specsDir: join(work, "specs"),
      functionsDir: join(work, "functions"),
    });
    const sent = await stackseam(
      ["send", "tf-1", "LAUNCH", "--machine", "tf-env", "--meta", "note=left\u202eright"],
      env(),
    );
    expect(sent.code, sent.stderr).toBe(0);
    await eventually("apply-env in ERROR", async () => {
      const r = await stackseam(["stacks", "show", "tf-1", "--json"], env());
      const stack = r.code === 0 ? (JSON.parse(r.stdout) as { tasks: { status: string }[] }) : null;
      return stack?.tasks[0]?.status === "ERROR" ? true : undefined;
    });
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop("SIGTERM")).toBe(0);
    await db?.drop();
    for (const d of [dataDir, work]) if (d) await removeDir(d);
  });

  it("stacks show: the Error: line, not the warnings; --full: everything", async () => {
    const show = await stackseam(["stacks", "show", "tf-1"], env());
    expect(show.stdout).toContain(SUMMARY);
    expect(show.stdout).not.toContain("Warning: Argument is deprecated");
    const full = await stackseam(["stacks", "show", "tf-1", "--full"], env());
    expect(full.stdout).toContain("│ Warning: Argument is deprecated");
    expect(full.stdout).toContain("│   on main.tf line 3:");
  });

  it("stacks list: the failed task's Error: line; --full: everything", async () => {
    const list = await stackseam(["stacks", "list"], env());
    expect(list.stdout).toContain(`apply-env: ${SUMMARY}`);
    expect(list.stdout).not.toContain("Warning:");
    const full = await stackseam(["stacks", "list", "--full"], env());
    expect(full.stdout).toContain("│ Warning: Argument is deprecated");
  });

  it("stacks history: the Error: line; --full: everything", async () => {
    const history = await stackseam(["stacks", "history", "tf-1"], env());
    expect(history.stdout).toContain(`task apply-env failed: ${SUMMARY}`);
    expect(history.stdout).not.toContain("Warning:");
    const full = await stackseam(["stacks", "history", "tf-1", "--full"], env());
    expect(full.stdout).toContain("│ Warning: Argument is deprecated");
  });

  it("the dev terminal: the Error: line on the task's ✗ line", async () => {
    await dev.waitFor(/✗ apply-env.*Error: Invalid reference/);
    const line = dev
      .output()
      .split("\n")
      .find((l) => l.includes("✗ apply-env"));
    expect(line).toContain(SUMMARY);
  });

  it("a right-to-left override in a value is shown, not obeyed", async () => {
    const show = await stackseam(["stacks", "show", "tf-1"], env());
    expect(show.stdout).toContain("left⟨U+202E⟩right");
    expect(show.stdout).not.toContain("\u202e");
  });

  it("validate prints NUL and bidi characters of a spec visibly", async () => {
    const file = join(work, "odd.yml");
    await writeFile(
      file,
      'version: 1\nevents: [GO]\nstates:\n  INIT:\n    "o\u202en": {}\n    "x\u0000y": 1\n',
    );
    const r = await stackseam(["validate", file], env());
    expect(r.code).toBe(1);
    expect(r.stdout.includes("\u0000")).toBe(false);
    expect(r.stdout.includes("\u202e")).toBe(false);
    expect(r.stdout).toContain("o⟨U+202E⟩n");
    expect(r.stdout).toContain("x␀y");
  });
});
