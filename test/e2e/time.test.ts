import { cp, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  buildCli,
  cli,
  cliOk,
  type DevProcess,
  eventually,
  ROOT,
  removeDir,
  startDev,
  tempDataDir,
} from "./dev-harness.js";
import { showStack, stackStateOf } from "./stacks.js";

// Time and data in `stackseam dev` (issues 13–15): nobody sends anything after the first event,
// and the stack still reaches a state someone chose; what a task built is readable by a script.

// An environment that nobody uses for 3 s is destroyed, with a warning a second before.
const EPHEMERAL = `version: 1
events: [LAUNCH, DESTROY]
ttl: { idle: 3s, warn: 1s, event: DESTROY }
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [provision-env]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: TEARDOWN }]
  TEARDOWN:
    terminal: true
    tasks: [destroy-env]
tasks:
  provision-env:
    executor: lambda
    config: { name: provision-env }
  destroy-env:
    executor: lambda
    config: { name: destroy-env }
`;

// A task whose first attempt hangs: timed out after 3 s, tried again after 1 s.
const FLAKY = `version: 1
events: [LAUNCH, DESTROY]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [hang-once]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
tasks:
  hang-once:
    executor: lambda
    config: { name: hang-once }
    timeout: 3s
    retry: { attempts: 2, delay: 1s, backoff: 2, on: [timeout] }
`;

// The local invoker passes a Lambda payload ({ stackId, metadata, args }), not the attempt: the
// function counts its calls per stack in the data dir, and the first one waits for a release file
// (written by the test once the retry has succeeded), as a hung apply would until someone kills it.
const HANG_ONCE = `import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export async function handler({ stackId }) {
  const dir = join(process.env.STACKSEAM_DATA_DIR, "calls");
  await mkdir(dir, { recursive: true });
  const file = join(dir, stackId);
  const call = Number(await readFile(file, "utf8").catch(() => "0")) + 1;
  await writeFile(file, String(call));
  if (call === 1) {
    for (let i = 0; i < 600; i++) {
      if (await access(join(dir, stackId + ".release")).then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { outputs: { call } };
}
`;

// The example's provision-env, held at a gate while metadata.gate names one that is still closed,
// so that an event can be sent while PROVISION certainly runs.
const GATED_PROVISION = `import { access } from "node:fs/promises";
import { join } from "node:path";
import { handler as provision } from "./provision-env-example.mjs";

export async function handler(payload) {
  const gate = payload.metadata?.gate;
  if (typeof gate === "string") {
    const open = join(process.env.STACKSEAM_DATA_DIR, "gates", gate);
    for (let i = 0; i < 600; i++) {
      if (await access(open).then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return provision(payload);
}
`;

describe("stackseam dev: timers, deferral and outputs", { timeout: 240_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    const specs = join(dataDir, "specs");
    const functions = join(dataDir, "functions");
    await cp(join(ROOT, "examples/specs"), specs, { recursive: true });
    await cp(join(ROOT, "examples/functions"), functions, { recursive: true });
    await writeFile(join(specs, "ephemeral.yml"), EPHEMERAL);
    await writeFile(join(specs, "flaky.yml"), FLAKY);
    await writeFile(join(functions, "hang-once.mjs"), HANG_ONCE);
    await rename(join(functions, "provision-env.mjs"), join(functions, "provision-env-example.mjs"));
    await writeFile(join(functions, "provision-env.mjs"), GATED_PROVISION);
    await mkdir(join(dataDir, "gates"), { recursive: true });
    // The Task Satisfier keeps 30 s back before a task's deadline by default (time to report
    // before a Lambda ends): a 3 s timeout needs a shorter margin to start at all.
    dev = await startDev({
      dataDir,
      databaseUrl: db.url,
      specsDir: specs,
      functionsDir: functions,
      env: { TERRAFORM_DEADLINE_MARGIN_MS: "100" },
    });
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop("SIGINT")).toBe(0);
    await db?.drop();
    if (dataDir) await removeDir(dataDir);
  });

  const history = (id: string) => cliOk(dataDir, ["stacks", "history", id]);

  it("a stack with an idle: 3s TTL is warned, then destroyed by itself", async () => {
    await cliOk(dataDir, ["send", "ttl-1", "LAUNCH", "--machine", "ephemeral", "--meta", "delayMs:=0"]);
    await eventually("ttl-1 removed", async () =>
      (await showStack(dataDir, "ttl-1")) === null ? true : undefined,
    );
    const rows = await history("ttl-1");
    expect(rows).toMatch(/TIMER ttl-warning\s+applied\s+RUN\s+RUN\s+TTL warning: DESTROY /);
    expect(rows).toMatch(/TIMER ttl\s+applied\s+RUN\s+TEARDOWN\s+TTL idle for 3s: DESTROY/);
    expect(rows).toMatch(/TASK_COMPLETED\s+applied\s+TEARDOWN\s+removed/);
    expect(rows.indexOf("TIMER ttl-warning")).toBeLessThan(rows.indexOf("TIMER ttl "));
    await dev.waitFor(/ttl-1\s+⏱ ttl {2}RUN → TEARDOWN {2}TTL idle for 3s: DESTROY/);
    await dev.waitFor(/ttl-1\s+TEARDOWN → removed/);
  });

  it("a hung attempt is timed out, retried after its backoff, and attempt 2 succeeds", async () => {
    await cliOk(dataDir, ["send", "hang-1", "LAUNCH", "--machine", "flaky"]);
    const done = await eventually("hang-1 in RUN", async () => {
      const s = await showStack(dataDir, "hang-1");
      return s && stackStateOf(s) === "RUN" ? s : undefined;
    });
    expect(done.outputs).toEqual({ "hang-once": { call: { value: 2, sensitive: false } } });
    const rows = await history("hang-1");
    expect(rows).toMatch(
      /TIMER timeout:hang-once\s+applied\s+PROVISION\s+PROVISION\s+task hang-once timed out \(attempt 1 of 2\); retry in 1s/,
    );
    expect(rows).toMatch(
      /TIMER retry:hang-once\s+applied\s+PROVISION\s+PROVISION\s+retried task hang-once after its backoff \(attempt 2 of 2\)/,
    );
    expect(rows).toMatch(/TASK_COMPLETED\s+applied\s+PROVISION\s+RUN\s+/);
    await dev.waitFor(/hang-1\s+⏱ timeout:hang-once {2}task hang-once timed out \(attempt 1 of 2\)/);
    await dev.waitFor(/hang-1\s+▸ hang-once \(lambda, attempt 2\)/);

    // The first attempt answers at last: its report is stale (the token moved on), nothing changes.
    await writeFile(join(dataDir, "calls", "hang-1.release"), "");
    const late = await eventually("the late report in history", async () => {
      const h = await history("hang-1");
      return /TASK_COMPLETED\s+ignored\s+RUN\s+RUN\s+stale report/.test(h) ? h : undefined;
    });
    expect(late).toMatch(/TASK_COMPLETED\s+ignored/);
    expect((await showStack(dataDir, "hang-1"))?.outputs).toEqual(done.outputs);
  });

  it("UPDATE and DESTROY sent during PROVISION are deferred and applied in arrival order from RUN", async () => {
    await cliOk(dataDir, [
      "send",
      "defer-1",
      "LAUNCH",
      "--machine",
      "qa-env",
      "--meta",
      "gate=defer-1",
      "--meta",
      "delayMs:=0",
    ]);
    // Standard queues do not keep order: each event is sent once the one before it was handled.
    const deferred = async (n: number) =>
      eventually(`${n} deferred`, async () => {
        const s = await showStack(dataDir, "defer-1");
        return s && ((s.deferred ?? []) as unknown[]).length === n ? s : undefined;
      });
    await eventually("defer-1 in PROVISION", async () => {
      const s = await showStack(dataDir, "defer-1");
      return s && stackStateOf(s) === "PROVISION" ? s : undefined;
    });
    await cliOk(dataDir, ["send", "defer-1", "UPDATE", "--meta", "apiImageTag=v2"]);
    await deferred(1);
    await cliOk(dataDir, ["send", "defer-1", "DESTROY"]);
    const kept = await eventually("both deferred", async () => {
      const s = await showStack(dataDir, "defer-1");
      const names = ((s?.deferred ?? []) as { name: string }[]).map((d) => d.name);
      return names.length === 2 ? { s, names } : undefined;
    });
    expect(stackStateOf(kept.s!)).toBe("PROVISION");
    expect(kept.names).toEqual(["UPDATE", "DESTROY"]);
    const shown = await cliOk(dataDir, ["stacks", "show", "defer-1"]);
    expect(shown).toMatch(/^Deferred {2}2 events, offered again at the next state entry \(oldest first\)$/m);
    expect(shown).toMatch(/^ {2}UPDATE\s+\S+\s+apiImageTag\s/m);

    await writeFile(join(dataDir, "gates", "defer-1"), "");
    await eventually("defer-1 removed", async () =>
      (await showStack(dataDir, "defer-1")) === null ? true : undefined,
    );
    const rows = await history("defer-1");
    expect(rows).toMatch(/UPDATE\s+applied\s+PROVISION\s+PROVISION\s+UPDATE deferred in PROVISION/);
    expect(rows).toMatch(
      /UPDATE \(deferred\)\s+applied\s+RUN\s+PROVISION\s+deferred UPDATE applied on entering RUN/,
    );
    expect(rows).toMatch(
      /DESTROY \(deferred\)\s+applied\s+RUN\s+TEARDOWN\s+deferred DESTROY applied on entering RUN/,
    );
    expect(rows.indexOf("UPDATE (deferred)")).toBeLessThan(rows.indexOf("DESTROY (deferred)"));
  });

  it("stacks outputs prints a Lambda task's output for a script; timers, tick and show tell the time", async () => {
    await cliOk(dataDir, ["send", "out-1", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs:=0"]);
    await eventually("out-1 in RUN", async () => {
      const s = await showStack(dataDir, "out-1");
      return s && stackStateOf(s) === "RUN" ? s : undefined;
    });
    expect(await cliOk(dataDir, ["stacks", "outputs", "out-1", "url"])).toBe(
      "https://out-1.qa.example.test\n",
    );
    expect(await cliOk(dataDir, ["stacks", "outputs", "out-1", "provision-env.url"])).toBe(
      "https://out-1.qa.example.test\n",
    );
    const missing = await cli(dataDir, ["stacks", "outputs", "out-1", "id"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("stack out-1 has no output id; its outputs: provision-env.url");

    const shown = await cliOk(dataDir, ["stacks", "show", "out-1"]);
    expect(shown).toMatch(/^TTL {7}DESTROY in 2d23h \(/m);
    expect(shown).toMatch(/^ {10}why: idle for 3d, by the machine's ttl$/m);
    expect(shown).toMatch(/^ {2}provision-env\s+url\s+https:\/\/out-1\.qa\.example\.test$/m);

    // dev ticks every second already (without the specs' schedules, which the harness turns off so
    // no test crosses the example's evening freeze): a tick by hand finds nothing due, and writes
    // the schedules' next occurrences, which `timers` then lists.
    const tick = await cli(dataDir, ["tick"]);
    expect(tick.code, tick.stderr).toBe(0);
    expect(tick.stdout).toMatch(/^tick: 0 timers fired, /m);

    const timers = await cliOk(dataDir, ["timers"]);
    expect(timers).toMatch(/out-1\s+ttl-warning\s+\S+\s+in 1d23h\s+RUN\s+TTL warning \(before DESTROY\)/);
    expect(timers).toMatch(/out-1\s+ttl\s+\S+\s+in 2d23h\s+RUN\s+TTL: sends DESTROY/);
    expect(timers).toMatch(
      /qa-env\s+freeze-evenings\s+\S+\s+in \S+\s+FREEZE\s+RUN\s+0 19 \* \* 1-5 \(Europe\/Berlin\)/,
    );
    expect(timers).toMatch(
      /qa-env\s+thaw-mornings\s+\S+\s+in \S+\s+THAW\s+FROZEN\s+0 7 \* \* 1-5 \(Europe\/Berlin\)/,
    );

    expect(await readFile(join(dataDir, "envs", "out-1.json"), "utf8")).toContain('"status": "running"');
  });
});
