import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildCli,
  type DevProcess,
  eventually,
  ROOT,
  removeDir,
  startDev,
  tempDataDir,
} from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { commands } from "../src/registry.js";
import { BIN, hasProgram, runProgram, stackseam, terminalEnv } from "./support/cli.js";

const ESC = "\u001b[";

describe("small gaps of the CLI", { timeout: 240_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let work: string;
  let dev: DevProcess;
  const env = (extra: Record<string, string> = {}) => ({ STACKSEAM_DATA_DIR: dataDir, ...extra });

  async function stackJson(id: string) {
    const r = await stackseam(["stacks", "show", id, "--json"], env());
    return r.code === 0
      ? (JSON.parse(r.stdout) as {
          state: string;
          createdAt: string;
          updatedAt: string;
          tasks: { name: string; status: string; token: string; attempt: number }[];
        })
      : null;
  }

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    work = await mkdtemp(join(tmpdir(), "stackseam-gaps-"));
    dev = await startDev({ dataDir, databaseUrl: db.url });
    for (const id of ["gap-a", "gap-b", "gap-c"]) {
      const r = await stackseam(["send", id, "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=0"], env());
      expect(r.code, r.stderr).toBe(0);
    }
    await eventually("three stacks in RUN", async () => {
      const states = await Promise.all(
        ["gap-a", "gap-b", "gap-c"].map(async (id) => (await stackJson(id))?.state),
      );
      return states.every((s) => s === "RUN") ? true : undefined;
    });
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop("SIGTERM")).toBe(0);
    await db?.drop();
    for (const d of [dataDir, work]) if (d) await removeDir(d);
  });

  it("--version prints the CLI package's version", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "packages/cli/package.json"), "utf8")) as {
      version: string;
    };
    const r = await stackseam(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`stackseam ${pkg.version}\n`);
  });

  it.skipIf(!hasProgram("script"))(
    "colours on a terminal only: not when piped, not with NO_COLOR",
    async () => {
      const spec = join(work, "warn.yml");
      await writeFile(
        spec,
        "version: 1\nevents: [GO]\nstates:\n  INIT: {}\n  LOST: {}\n  DONE:\n    terminal: true\n",
      );
      const command = `'${process.execPath}' '${BIN}' validate '${spec}'`;
      // `script` gives the CLI a pseudo-terminal, as an interactive shell would. Without CI: Node
      // gives a terminal two colours when CI is set (as CI runners do), so no colour there either.
      const tty = (extra: Record<string, string | undefined>) =>
        runProgram("script", ["-qec", command, "/dev/null"], {
          env: terminalEnv({ TERM: "xterm-256color", NO_COLOR: undefined, CI: undefined, ...extra }),
        });
      const onTerminal = await tty({});
      expect(onTerminal.stdout).toContain(`${ESC}33mwarning${ESC}39m`);
      expect((await tty({ NO_COLOR: "1" })).stdout).not.toContain(ESC);
      const piped = await stackseam(["validate", spec], { NO_COLOR: undefined, TERM: "xterm-256color" });
      expect(piped.stdout).toContain(": warning: ");
      expect(piped.stdout).not.toContain(ESC);
    },
  );

  it("graph on a folder says so and names the specs in it (exit 2)", async () => {
    const r = await stackseam(["graph", "examples/specs"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("examples/specs is a folder; graph draws one machine");
    expect(r.stderr).toContain("stackseam graph examples/specs/qa-env-terraform.yml");
    expect(r.stderr).toContain("qa-env-terraform.yml, qa-env.yml");
  });

  it("every command's --help lists every option it accepts", async () => {
    // The options docs/cli.md documents for each command.
    const expected: Record<string, string[]> = {
      stacks: [
        "--database-url",
        "--machine",
        "--state",
        "--limit",
        "--after",
        "--full",
        "--local",
        "--json",
        "--help",
      ],
      send: [
        "--machine",
        "--meta",
        "--event-id",
        "--task",
        "--token",
        "--description",
        "--queue-url",
        "--specs",
        "--no-check",
        "--dry-run",
        "--json",
        "--help",
      ],
      task: [
        "--stack",
        "--task",
        "--specs",
        "--database-url",
        "--dry-run",
        "--functions",
        "--terraform-bin",
        "--queue-url",
        "--no-send",
        "--timeout",
        "--help",
      ],
      validate: ["--json", "--help"],
      graph: ["--format", "--help"],
      migrate: ["--database-url", "--dir", "--help"],
      specs: ["--bucket", "--prefix", "--dry-run", "--help"],
      dev: ["--specs", "--functions", "--port", "--data-dir", "--help"],
      completion: ["--help"],
    };
    for (const [command, options] of Object.entries(expected)) {
      const r = await stackseam([command, "--help"]);
      expect(r.code, command).toBe(0);
      for (const option of options) expect(r.stdout, `${command} --help`).toContain(option);
    }
  });

  it("no command accepts an option its --help does not mention", async () => {
    for (const [name, command] of Object.entries(commands)) {
      const help = (await stackseam([name, "--help"])).stdout;
      for (const option of Object.keys(command.options))
        expect(help, `${name} --help`).toContain(`--${option}`);
    }
  });

  it("stacks list --limit says when more rows exist and how to get them", async () => {
    const first = await stackseam(["stacks", "list", "--limit", "2"], env());
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/gap-a/);
    expect(first.stdout).toMatch(/gap-b/);
    expect(first.stdout).not.toMatch(/gap-c/);
    expect(first.stderr).toContain(
      "more stacks after these 2: stackseam stacks list --limit 2 --after gap-b",
    );
    const next = await stackseam(["stacks", "list", "--limit", "2", "--after", "gap-b"], env());
    expect(next.stdout).toMatch(/gap-c/);
    expect(next.stderr).toBe("");
    expect((await stackseam(["stacks", "list", "--limit", "3"], env())).stderr).toBe("");
  });

  it("one timestamp format in show, list and history: ISO 8601 UTC, or local with --local", async () => {
    const stack = (await stackJson("gap-a"))!;
    const show = (await stackseam(["stacks", "show", "gap-a"], env())).stdout;
    expect(show).toContain(`Created   ${stack.createdAt}`);
    expect(show).toContain(`Updated   ${stack.updatedAt}`);
    expect(stack.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect((await stackseam(["stacks", "list"], env())).stdout).toMatch(
      new RegExp(`gap-a .* ${stack.updatedAt}`),
    );
    const history = JSON.parse((await stackseam(["stacks", "history", "gap-a", "--json"], env())).stdout) as {
      at: string;
    }[];
    const table = (await stackseam(["stacks", "history", "gap-a"], env())).stdout;
    for (const row of history) expect(table).toContain(row.at);

    // India has no daylight saving time: local is UTC + 05:30 all year.
    const ist = (iso: string) =>
      `${new Date(Date.parse(iso) + 330 * 60_000).toISOString().slice(0, 23)}+05:30`;
    const local = (await stackseam(["stacks", "show", "gap-a", "--local"], env({ TZ: "Asia/Kolkata" })))
      .stdout;
    expect(local).toContain(`Created   ${ist(stack.createdAt)}`);
    const localHistory = (
      await stackseam(["stacks", "history", "gap-a", "--local"], env({ TZ: "Asia/Kolkata" }))
    ).stdout;
    for (const row of history) expect(localHistory).toContain(ist(row.at));
  });

  it("history shows a removal as a removal", async () => {
    expect((await stackseam(["send", "gap-c", "DESTROY"], env())).code).toBe(0);
    const table = await eventually("gap-c removed", async () => {
      const h = (await stackseam(["stacks", "history", "gap-c"], env())).stdout;
      return /stack removed/.test(h) ? h : undefined;
    });
    const last = table.trimEnd().split("\n").at(-1)!;
    expect(last).toMatch(/TASK_COMPLETED\s+applied\s+TEARDOWN\s+removed\s/);
    expect(table).not.toMatch(/TEARDOWN\s+TEARDOWN/);
  });

  it("task run on a Lambda task uses the running dev's functions and prints why it failed", async () => {
    const message = join(work, "task.json");
    await writeFile(
      message,
      JSON.stringify({
        stackId: "gap-t",
        machine: "qa-env",
        state: "PROVISION",
        task: "provision-env",
        executor: "lambda",
        config: { name: "provision-env" },
        metadata: { delayMs: 0, failProvision: true },
        token: "manual-1",
        attempt: 1,
      }),
    );
    const r = await stackseam(["task", "run", message, "--no-send"], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `lambda tasks run from ${join(ROOT, "examples/functions")} (the running dev's`,
    );
    expect(r.stderr).toContain(
      "task provision-env failed: Lambda function provision-env failed: Error: provisioning gap-t failed: metadata failProvision=true",
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ event: "TASK_ERROR", stackId: "gap-t", token: "manual-1" });

    // Without a dev nor AWS configuration, the reason it could not invoke anything is printed.
    const alone = await stackseam(["task", "run", message, "--no-send"], { STACKSEAM_DATA_DIR: work });
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/Region is missing/);
  });

  it("task run --stack --task runs the stack's current dispatch of that task", async () => {
    const sent = await stackseam(
      [
        "send",
        "gap-f",
        "LAUNCH",
        "--machine",
        "qa-env",
        "--meta",
        "delayMs=0",
        "--meta",
        "failProvision=true",
      ],
      env(),
    );
    expect(sent.code).toBe(0);
    const stack = await eventually("gap-f's task failed", async () => {
      const s = await stackJson("gap-f");
      return s?.tasks[0]?.status === "ERROR" ? s : undefined;
    });
    const task = stack.tasks[0]!;
    const r = await stackseam(
      ["task", "run", "--stack", "gap-f", "--task", "provision-env", "--no-send"],
      env(),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `task provision-env of stack gap-f (state PROVISION, attempt ${task.attempt}, token ${task.token})`,
    );
    expect(JSON.parse(r.stdout)).toMatchObject({
      event: "TASK_ERROR",
      stackId: "gap-f",
      task: "provision-env",
      token: task.token,
    });

    const wrong = await stackseam(["task", "run", "--stack", "gap-f", "--task", "freeze-env"], env());
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(
      "stack gap-f is in state PROVISION, whose tasks are: provision-env (ERROR)",
    );
    expect((await stackseam(["task", "run", "--stack", "nope", "--task", "x"], env())).stderr).toContain(
      "stack nope does not exist",
    );
  });
});
