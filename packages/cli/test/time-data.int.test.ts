import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localMachineSource } from "@stackseam/state-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, eventually } from "../../../test/e2e/dev-harness.js";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import {
  deliver,
  event,
  manager,
  mustGetStack,
  sqsRecord,
  tokenOf,
} from "../../state-manager/test/helpers.js";
import { stackseam } from "./support/cli.js";

// `stackseam timers`, `tick`, `stacks show` (time and outputs), `stacks outputs` and `send --ttl`:
// the real binary against real Postgres and SQS, with stacks driven by the real State Manager.

const SPEC = `version: 1
events: [LAUNCH, DESTROY]
ttl: { idle: 2s, warn: 1s, event: DESTROY }
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: BUILD }]
  BUILD:
    tasks: [network, app]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
    tasks: [teardown]
tasks:
  network:
    executor: lambda
    config: { name: network }
  app:
    executor: lambda
    config: { name: app }
  teardown:
    executor: lambda
    config: { name: teardown }
`;

describe("time and data from the CLI", { timeout: 180_000 }, () => {
  let database: TestDatabase;
  let aws: TestAws;
  let specs: string;
  let m: ReturnType<typeof manager>;
  const db = () => ["--database-url", database.url];
  const run = (args: string[], env: Record<string, string> = {}) => stackseam(args, env);

  /** LAUNCH a stack and report both tasks done with the outputs they built: the stack is in RUN. */
  async function launch(id: string): Promise<void> {
    await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "timed" })));
    const building = await mustGetStack(m.db, id);
    const report = (task: string, outputs: Record<string, unknown>) =>
      sqsRecord(event(id, "TASK_COMPLETED", { task, token: tokenOf(building, task), outputs }));
    await deliver(
      m.sm,
      report("network", {
        url: { value: "https://net.example.test", sensitive: false },
        cidr: { value: ["10.0.0.0/16"], sensitive: false },
        password: { sensitive: true },
      }),
    );
    await deliver(
      m.sm,
      report("app", {
        url: { value: "https://app.example.test", sensitive: false },
        port: { value: 8080, sensitive: false },
      }),
    );
    expect((await mustGetStack(m.db, id)).state).toBe("RUN");
  }

  beforeAll(async () => {
    await buildCli();
    database = await createTestDatabase();
    aws = await startTestAws();
    specs = await mkdtemp(join(tmpdir(), "stackseam-time-specs-"));
    await writeFile(join(specs, "timed.yml"), SPEC);
    m = manager(database.url, aws.sqs, aws.taskQueueUrl, {
      machines: localMachineSource({ dir: specs }),
    });
    await launch("out-1");
  });
  afterAll(async () => {
    await m?.close();
    await aws?.stop();
    await database?.drop();
    if (specs) await rm(specs, { recursive: true, force: true });
  });

  it("stacks outputs prints a bare value for scripts, and refuses what it cannot print", async () => {
    const app = await run(["stacks", "outputs", "out-1", "app.url", ...db()]);
    expect(app).toMatchObject({ code: 0, stdout: "https://app.example.test\n", stderr: "" });
    expect((await run(["stacks", "outputs", "out-1", "port", ...db()])).stdout).toBe("8080\n");
    expect((await run(["stacks", "outputs", "out-1", "cidr", ...db()])).stdout).toBe('["10.0.0.0/16"]\n');
    expect((await run(["stacks", "outputs", "out-1", "app.url", "--json", ...db()])).stdout).toBe(
      '"https://app.example.test"\n',
    );

    const twice = await run(["stacks", "outputs", "out-1", "url", ...db()]);
    expect(twice.code).toBe(1);
    expect(twice.stdout).toBe("");
    expect(twice.stderr).toContain("output url is reported by 2 tasks: name one as app.url or network.url");

    const sensitive = await run(["stacks", "outputs", "out-1", "password", ...db()]);
    expect(sensitive.code).toBe(1);
    expect(sensitive.stdout).toBe("");
    expect(sensitive.stderr).toContain("output network.password is sensitive");

    const missing = await run(["stacks", "outputs", "out-1", "nope", ...db()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      "stack out-1 has no output nope; its outputs: app.url, app.port, network.url, network.cidr, network.password",
    );
    const noStack = await run(["stacks", "outputs", "ghost", "url", ...db()]);
    expect(noStack.code).toBe(1);
    expect(noStack.stderr).toContain("stack ghost does not exist");

    const all = await run(["stacks", "outputs", "out-1", ...db()]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/network\s+password\s+\(sensitive\)/);
    expect(all.stdout).toMatch(/app\s+url\s+https:\/\/app\.example\.test/);
    const json = JSON.parse((await run(["stacks", "outputs", "out-1", "--json", ...db()])).stdout);
    expect(json.network.password).toEqual({ sensitive: true });
    expect(json.app.port).toEqual({ value: 8080, sensitive: false });
  });

  it("stacks show lists the timers, the TTL and the outputs; --json has them", async () => {
    const show = await run(["stacks", "show", "out-1", ...db()]);
    expect(show.code, show.stderr).toBe(0);
    // The TTL is 2 s: by the time the CLI has read it, it may be due already.
    expect(show.stdout).toMatch(/^TTL {7}DESTROY (in \d+s|now|\d+s ago) \(/m);
    expect(show.stdout).toContain("why: idle for 2s, by the machine's ttl");
    expect(show.stdout).toMatch(
      /ttl-warning\s+\S+\s+(in \d+s|now|\d+s ago)\s+TTL warning \(before DESTROY\)/,
    );
    expect(show.stdout).toMatch(/ttl\s+\S+\s+(in \d+s|now|\d+s ago)\s+TTL: sends DESTROY/);
    expect(show.stdout).toMatch(/network\s+password\s+\(sensitive\)/);
    const json = JSON.parse((await run(["stacks", "show", "out-1", "--json", ...db()])).stdout);
    expect(json.timers.map((t: { name: string }) => t.name).sort()).toEqual(["ttl", "ttl-warning"]);
    expect(json.ttlStatus).toMatchObject({ event: "DESTROY", why: "idle for 2s", from: "machine" });
    expect(json.outputs.network.password).toEqual({ sensitive: true });
  });

  it("timers lists what is upcoming and due; tick fires it and says so", async () => {
    const listed = JSON.parse((await run(["timers", "--json", ...db()])).stdout);
    expect(listed.timers.filter((t: { stackId: string }) => t.stackId === "out-1")).toEqual([
      expect.objectContaining({ name: "ttl-warning", state: "RUN", fires: "TTL warning (before DESTROY)" }),
      expect.objectContaining({
        name: "ttl",
        state: "RUN",
        fires: "TTL: sends DESTROY",
        ttlEvent: "DESTROY",
      }),
    ]);
    // The TTL is 2 s of idleness: wait until both of its timers are due.
    const due = await eventually("out-1's TTL due", async () => {
      const r = await run(["timers", "--due", ...db()]);
      return /out-1\s+ttl\s/.test(r.stdout) ? r.stdout : undefined;
    });
    expect(due).toMatch(/^STACK\s+TIMER\s+DUE\s+IN\s+STATE\s+FIRES$/m);
    expect(due).toMatch(/out-1\s+ttl-warning\s/);

    // No task queue: the tick would have nowhere to send the teardown task.
    const noQueue = await run(["tick", ...db(), "--specs", specs]);
    expect(noQueue.code).toBe(2);
    expect(noQueue.stderr).toContain("no task queue");

    const env = { ...aws.env };
    const ticked = await run(["tick", ...db(), "--specs", specs, "--task-queue-url", aws.taskQueueUrl], env);
    expect(ticked.code, ticked.stderr + ticked.stdout).toBe(0);
    expect(ticked.stdout).toMatch(/^out-1 {2}TIMER ttl-warning → RUN {2}TTL warning: DESTROY /m);
    expect(ticked.stdout).toMatch(/^out-1 {2}TIMER ttl → GONE {2}TTL idle for 2s: DESTROY$/m);
    expect(ticked.stdout).toMatch(
      /^tick: 2 timers fired, 0 schedule occurrences \(0 events\), 0 task messages re-sent in \d+ ms$/m,
    );

    const after = await mustGetStack(m.db, "out-1");
    expect(after.state).toBe("GONE");
    expect((await run(["timers", "--due", ...db()])).stdout).toBe("no timers due\n");
    const again = await run(["tick", ...db(), "--specs", specs, "--task-queue-url", aws.taskQueueUrl], env);
    expect(again.stdout).toMatch(/^tick: 0 timers fired/m);

    const history = await run(["stacks", "history", "out-1", ...db()]);
    expect(history.stdout).toMatch(/TIMER ttl-warning\s+applied\s+RUN\s+RUN\s+TTL warning: DESTROY/);
    expect(history.stdout).toMatch(/TIMER ttl\s+applied\s+RUN\s+GONE\s+TTL idle for 2s: DESTROY/);
  });

  it("EXTEND_TTL: send --ttl builds it, stacks show and history tell it", async () => {
    const dry = await run(["send", "ext-1", "EXTEND_TTL", "--ttl", "3d", "--dry-run", "--no-check"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ stackId: "ext-1", event: "EXTEND_TTL", ttl: "3d" });
    const wrongEvent = await run(["send", "ext-1", "DESTROY", "--ttl", "3d", "--dry-run", "--no-check"]);
    expect(wrongEvent.code).toBe(2);
    expect(wrongEvent.stderr).toContain("--ttl goes with EXTEND_TTL");
    const badTtl = await run(["send", "ext-1", "EXTEND_TTL", "--ttl", "soon", "--dry-run", "--no-check"]);
    expect(badTtl.code).toBe(2);
    expect(badTtl.stderr).toContain("invalid event message");

    await launch("ext-1");
    await deliver(m.sm, sqsRecord(JSON.parse(dry.stdout)));
    const extended = await run(["stacks", "show", "ext-1", ...db()]);
    expect(extended.stdout).toContain("why: kept until");
    // Rounded to the second: read within half a second of the event, 3d less a moment shows as 3d.
    expect(extended.stdout).toMatch(/^TTL {7}DESTROY in (2d23h|3d)/m);

    await deliver(m.sm, sqsRecord({ stackId: "ext-1", event: "EXTEND_TTL", ttl: "never" }));
    const exempt = await run(["stacks", "show", "ext-1", ...db()]);
    expect(exempt.stdout).toContain("TTL       exempt: this stack never expires (EXTEND_TTL never)");
    expect(exempt.stdout).toContain("Timers    (none pending)");
    const history = await run(["stacks", "history", "ext-1", ...db()]);
    expect(history.stdout).toMatch(/EXTEND_TTL\s+applied\s+RUN\s+RUN\s+TTL: kept at least until /);
    expect(history.stdout).toMatch(/EXTEND_TTL\s+applied\s+RUN\s+RUN\s+TTL: this stack never expires/);
  });
});
