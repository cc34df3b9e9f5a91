import { describe, expect, it } from "vitest";
import { type Decision, type Stack, timersOf } from "../src/index.js";
import { appliedDecision as applied, decide, ev, fakeDeps, machineFrom } from "./support.js";

// Task reports and notifications at their edges (docs/messages.md "task report", docs/spec-reference.md
// "notifications"): outputs over the limit, heartbeats for a task that is not running or has no
// timeout, a failure without a description, the TTL warning as a notification.

const SPEC = `
version: 1
events: [LAUNCH, DESTROY]
ttl: { idle: 4h, event: DESTROY, warn: 1h }
notifications:
  - name: team
    on: [ttl-warning, task-failed, event-refused]
    webhook: { url: "https://hooks.example/stackseam", secret: { env: HOOK_SECRET } }
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply, seed]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
tasks:
  apply: { executor: lambda, config: { name: apply }, timeout: 10m }
  seed: { executor: lambda, config: { name: seed } }
`;
const machine = machineFrom(SPEC, "env");

const stackOf = (d: Decision): Stack => {
  const s = applied(d).stack;
  if (!s) throw new Error("removed");
  return s;
};

function launched() {
  const deps = fakeDeps();
  const stack = stackOf(decide(machine, null, ev("LAUNCH", { machine: "env" }), deps));
  const token = (name: string) => stack.tasks.find((t) => t.name === name)!.token;
  return { deps, stack, token };
}

describe("outputs", () => {
  it("completes the task but keeps no outputs over 64 KiB, and says why", () => {
    const { deps, stack, token } = launched();
    const big = { blob: { value: "x".repeat(70_000), sensitive: false as const } };
    const d = applied(
      decide(
        machine,
        stack,
        ev("TASK_COMPLETED", { task: "apply", token: token("apply"), outputs: big }),
        deps,
      ),
    );
    expect(d.stack?.tasks.find((t) => t.name === "apply")?.status).toBe("SATISFIED");
    expect(d.stack?.outputs).toBeUndefined();
    expect(d.detail.outputsProblem).toMatch(
      /^outputs not kept: they take 700\d\d bytes, over the limit of 65536$/,
    );
    expect(d.detail.outputsChanged).toBeUndefined();
  });
});

describe("heartbeats", () => {
  it("a heartbeat of a task without a timeout changes no deadline", () => {
    const { deps, stack, token } = launched();
    const d = applied(
      decide(machine, stack, ev("TASK_HEARTBEAT", { task: "seed", token: token("seed") }), deps),
    );
    expect(d.note).toBe("heartbeat from task seed (it has no timeout)");
    expect(d.stack?.tasks.find((t) => t.name === "seed")?.deadline).toBeUndefined();
  });

  it("ignores a heartbeat of a task that already finished", () => {
    const { deps, stack, token } = launched();
    const done = stackOf(
      decide(machine, stack, ev("TASK_COMPLETED", { task: "seed", token: token("seed") }), deps),
    );
    expect(
      decide(machine, done, ev("TASK_HEARTBEAT", { key: "beat", task: "seed", token: token("seed") }), deps),
    ).toMatchObject({
      outcome: "ignored",
      reason: "heartbeat for task seed, which is not running (SATISFIED)",
    });
  });

  it("counts the timeout from the heartbeat for a task dispatched before dispatch times were kept", () => {
    const { deps, stack, token } = launched();
    const { dispatchedAt: _, ...old } = stack.tasks.find((t) => t.name === "apply")!;
    const before: Stack = { ...stack, tasks: stack.tasks.map((t) => (t.name === "apply" ? old : t)) };
    const d = applied(
      decide(machine, before, ev("TASK_HEARTBEAT", { task: "apply", token: token("apply") }), deps),
    );
    const deadline = d.stack?.tasks.find((t) => t.name === "apply")?.deadline;
    // fakeDeps ticks one second per call: the heartbeat was decided at the clock's latest reading.
    expect(Date.parse(deadline!) - Date.parse(d.stack!.updatedAt)).toBe(10 * 60_000);
  });
});

describe("failures", () => {
  it("a TASK_ERROR without a description says so, and notifies the failure for good", () => {
    const { deps, stack, token } = launched();
    const d = applied(decide(machine, stack, ev("TASK_ERROR", { task: "seed", token: token("seed") }), deps));
    expect(d.stack?.tasks.find((t) => t.name === "seed")?.description).toBe(
      "the task failed without a description",
    );
    expect(d.notifications?.map((n) => [n.target, n.kind, n.body.summary])).toEqual([
      ["team", "task-failed", "s1: task seed failed (attempt 1): the task failed without a description"],
    ]);
  });
});

describe("notifications", () => {
  it("the TTL warning reaches the targets that asked for it, with the event and its time", () => {
    const { deps, stack, token } = launched();
    let run = stack;
    for (const name of ["apply", "seed"])
      run = stackOf(
        decide(
          machine,
          run,
          ev("TASK_COMPLETED", { key: `done-${name}`, task: name, token: token(name) }),
          deps,
        ),
      );
    const warning = timersOf(machine, run).find((t) => t.name === "ttl-warning")!;
    const ttl = timersOf(machine, run).find((t) => t.name === "ttl")!;
    const late = fakeDeps(Date.parse(ttl.dueAt) - 30 * 60_000);
    const d = applied(
      decide(
        machine,
        run,
        ev("TIMER", { key: "w", timer: { name: "ttl-warning", dueAt: warning.dueAt } }),
        late,
      ),
    );
    expect(d.notifications).toHaveLength(1);
    expect(d.notifications?.[0]).toMatchObject({
      target: "team",
      kind: "ttl-warning",
      body: { ttl: { event: "DESTROY", dueAt: ttl.dueAt }, summary: `s1: DESTROY at ${ttl.dueAt} (TTL)` },
    });
    // The TTL itself firing is no warning: DESTROY moves the stack to GONE, which nobody asked about.
    const fired = applied(
      decide(
        machine,
        d.stack!,
        ev("TIMER", { key: "t", timer: { name: "ttl", dueAt: ttl.dueAt } }),
        fakeDeps(Date.parse(ttl.dueAt)),
      ),
    );
    expect(fired.removed).toBe(true);
    expect(fired.notifications).toBeUndefined();
  });

  it("a refused first event tells event-refused targets, without a version (there is no stack yet)", () => {
    const d = decide(machine, null, ev("DESTROY", { machine: "env" }), fakeDeps());
    expect(d.outcome).toBe("refused");
    expect(d.notifications).toHaveLength(1);
    const body = d.notifications?.[0]?.body as unknown as Record<string, unknown>;
    expect(body).toMatchObject({ kind: "event-refused", stackId: "s1", state: null });
    expect(body).not.toHaveProperty("version");
  });
});
