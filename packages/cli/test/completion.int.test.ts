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
import { BIN, hasProgram, runProgram, stackseam, terminalEnv } from "./support/cli.js";

const CLI = `'${process.execPath}' '${BIN}'`;

describe("shell completion", { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let dev: DevProcess;
  const shellEnv = () => terminalEnv({ STACKSEAM_DATA_DIR: dataDir });

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    dev = await startDev({ dataDir, databaseUrl: db.url });
    const r = await stackseam(["send", "comp-1", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=0"], {
      STACKSEAM_DATA_DIR: dataDir,
    });
    expect(r.code).toBe(0);
    await eventually("comp-1 exists", async () =>
      (await stackseam(["stacks", "show", "comp-1"], { STACKSEAM_DATA_DIR: dataDir })).code === 0
        ? true
        : undefined,
    );
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop("SIGTERM")).toBe(0);
    await db?.drop();
    if (dataDir) await removeDir(dataDir);
  });

  /** What bash offers for `line` (the cursor at its end), as bash calls the completion function. */
  async function bashCompletes(line: string): Promise<string[]> {
    const script = `source <(${CLI} completion bash)
read -ra COMP_WORDS <<< "$LINE"
[[ "$LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$LINE"; COMP_POINT=\${#LINE}
_stackseam_complete
printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await runProgram("bash", ["-c", script], { env: { ...shellEnv(), LINE: `stackseam ${line}` } });
    expect(r.stderr).toBe("");
    return r.stdout.split("\n").filter(Boolean);
  }

  it("bash: the script registers a completion function for stackseam", async () => {
    const r = await runProgram("bash", ["-c", `source <(${CLI} completion bash); complete -p stackseam`], {
      env: shellEnv(),
    });
    expect(r.stdout.trim()).toBe("complete -F _stackseam_complete stackseam");
  });

  it("bash: commands, subcommands and options", async () => {
    expect(await bashCompletes("")).toEqual(
      expect.arrayContaining(["validate", "graph", "send", "stacks", "task", "dev", "completion"]),
    );
    expect(await bashCompletes("st")).toEqual(["stacks"]);
    expect(await bashCompletes("stacks ")).toEqual(expect.arrayContaining(["list", "show", "history"]));
    expect((await bashCompletes("stacks list --l")).sort()).toEqual(["--limit", "--local"]);
    expect(await bashCompletes("send x LAUNCH --no")).toEqual(["--no-check"]);
    expect(await bashCompletes("graph x.yml --format ")).toEqual(["mermaid", "dot"]);
    expect(await bashCompletes("completion ")).toEqual(["bash", "zsh", "fish"]);
  });

  it("bash: machine names, events and stack ids from the running dev", async () => {
    expect(await bashCompletes("send comp-2 LAUNCH --machine ")).toEqual(["qa-env", "qa-env-terraform"]);
    expect(await bashCompletes("send comp")).toEqual(["comp-1"]);
    expect(await bashCompletes("stacks history comp")).toEqual(["comp-1"]);
    // comp-1 runs qa-env: its events, and the engine's own.
    expect(await bashCompletes("send comp-1 ")).toEqual(
      expect.arrayContaining(["LAUNCH", "FREEZE", "THAW", "DESTROY", "TOUCH", "RETRY_FAILED_TASKS"]),
    );
    expect(await bashCompletes("send comp-1 FR")).toEqual(["FREEZE"]);
  });

  it("bash: files and folders where a command takes them", async () => {
    expect(await bashCompletes("validate examples/spe")).toEqual(["examples/specs"]);
    expect(await bashCompletes("graph examples/specs/qa-env.y")).toEqual(["examples/specs/qa-env.yml"]);
  });

  it("bash: stack ids from DATABASE_URL when no dev runs", async () => {
    const script = `source <(${CLI} completion bash); COMP_WORDS=(stackseam stacks show ''); COMP_CWORD=3; _stackseam_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await runProgram("bash", ["-c", script], {
      env: terminalEnv({ DATABASE_URL: db.url, STACKSEAM_DATA_DIR: `${dataDir}/none` }),
    });
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(["comp-1"]);
  });

  it.skipIf(!hasProgram("fish"))("fish: complete -C offers the same", async () => {
    const fish = async (line: string) => {
      const r = await runProgram("fish", ["-c", `${CLI} completion fish | source; complete -C '${line}'`], {
        env: shellEnv(),
      });
      return r.stdout.split("\n").filter(Boolean);
    };
    expect(await fish("stackseam sen")).toEqual(["send"]);
    expect(await fish("stackseam send comp-1 LA")).toEqual(["LAUNCH"]);
    expect(await fish("stackseam stacks show ")).toEqual(["comp-1"]);
  });

  it.skipIf(!hasProgram("zsh"))("zsh: the completion function offers the same", async () => {
    // compadd and _files only work inside a real completion; here they print what they were given.
    const script = `autoload -Uz compinit && compinit -u
source <(${CLI} completion zsh)
compadd() { [[ $1 == -a ]] && print -l -- \${(P)2} }
_files() { print -- ":files $*" }
[[ $_comps[stackseam] == _stackseam ]] || print "not registered"
words=(stackseam send comp-1 '') CURRENT=4 _stackseam
words=(stackseam stacks show '') CURRENT=4 _stackseam
words=(stackseam validate '') CURRENT=3 _stackseam`;
    const r = await runProgram("zsh", ["-f", "-c", script], { env: shellEnv() });
    const lines = r.stdout.split("\n").filter(Boolean);
    expect(lines).not.toContain("not registered");
    expect(lines).toEqual(expect.arrayContaining(["LAUNCH", "FREEZE", "comp-1", ":files "]));
  });
});
