import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Decision, EngineEvent, Stack } from "../src/index.js";
import { appliedDecision as applied, decide, ev, fakeDeps, machineFrom } from "./support.js";

// PROVISION and UPDATING run a task and defer what a pipeline sends meanwhile; RUN handles both.
const SPEC = `
version: 1
events: [LAUNCH, UPDATE, DESTROY, TOUCH]
notifications:
  - name: team
    on: [task-failed, state-entered, stack-removed, event-refused]
    states: [RUN]
    webhook: { url: "https://hooks.example/stackseam", secret: { env: HOOK_SECRET } }
  - name: audit
    on: [stack-removed]
    sns: { topicArn: "arn:aws:sns:eu-west-1:123456789012:stackseam" }
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
      UPDATE: [{ action: defer }]
      DESTROY: [{ action: defer }]
  RUN:
    on:
      UPDATE: [{ action: advance, state: UPDATING }]
      DESTROY: [{ action: advance, state: GONE }]
      TOUCH: [{ action: no-op }]
  UPDATING:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
      UPDATE: [{ action: defer }]
      DESTROY: [{ action: defer }]
  GONE:
    terminal: true
tasks:
  apply: { executor: lambda, config: { name: apply } }
`;
const machine = machineFrom(SPEC, "ci");

describe("deferred events", () => {
  it("keeps UPDATE and DESTROY during PROVISION and applies them in order when RUN is entered", () => {
    const deps = fakeDeps();
    const s0 = applied(decide(machine, null, ev("LAUNCH", { machine: "ci" }), deps)).stack!;
    const s1 = applied(decide(machine, s0, ev("UPDATE", { key: "u1", metadata: { sha: "abc" } }), deps))
      .stack!;
    const s2 = applied(decide(machine, s1, ev("DESTROY", { key: "d1" }), deps)).stack!;
    expect(s2.deferred?.map((d) => d.name)).toEqual(["UPDATE", "DESTROY"]);
    expect(s2.metadata).toEqual({});
    // The same UPDATE delivered again is not kept twice.
    expect(decide(machine, s2, ev("UPDATE", { key: "u1" }), deps)).toMatchObject({ outcome: "ignored" });

    // apply completes: NEXT → RUN, which handles UPDATE (→ UPDATING, which defers DESTROY again).
    const d = applied(
      decide(machine, s2, ev("TASK_COMPLETED", { task: "apply", token: s2.tasks[0]!.token }), deps),
    );
    expect(d.path).toEqual(["RUN", "UPDATING"]);
    expect(d.stack?.metadata).toEqual({ sha: "abc" });
    expect(d.stack?.deferred?.map((x) => x.key)).toEqual(["d1"]);
    expect(d.also).toEqual([
      expect.objectContaining({
        event: "UPDATE",
        key: "u1#deferred",
        outcome: "applied",
        from: "RUN",
        to: "UPDATING",
      }),
    ]);
    // Only UPDATING's task is dispatched: RUN was entered and left within the event.
    expect(d.dispatch.map((x) => x.task)).toEqual(["apply"]);

    // UPDATING's apply completes: RUN takes the kept DESTROY and the stack is removed.
    const gone = applied(
      decide(
        machine,
        d.stack!,
        ev("TASK_COMPLETED", { task: "apply", token: d.stack!.tasks[0]!.token }),
        deps,
      ),
    );
    expect(gone).toMatchObject({ removed: true, stack: null, to: "GONE" });
    expect(gone.also?.map((a) => [a.event, a.outcome])).toEqual([["DESTROY", "applied"]]);
  });

  /**
   * The reference, written from the docs for this machine: events are handled in arrival order,
   * each at the first state that handles it; in PROVISION/UPDATING, UPDATE and DESTROY wait and
   * TOUCH is refused. A stack's life: state, metadata, and whether it is gone.
   */
  function reference(commands: Cmd[]) {
    let state = "PROVISION";
    const meta: Record<string, string> = {};
    const waiting: Cmd[] = [];
    let gone = false;
    const handleInRun = (c: Cmd) => {
      if (c.kind === "UPDATE") {
        Object.assign(meta, c.meta);
        state = "UPDATING";
      } else if (c.kind === "DESTROY") gone = true;
    };
    const enterRun = () => {
      state = "RUN";
      while (!gone && state === "RUN" && waiting.length > 0) handleInRun(waiting.shift()!);
    };
    for (const c of commands) {
      if (gone) break;
      if (c.kind === "DONE") {
        if (state !== "RUN") enterRun();
      } else if (state === "RUN") {
        if (c.kind === "TOUCH") Object.assign(meta, c.meta);
        else handleInRun(c);
      } else if (c.kind !== "TOUCH") waiting.push(c);
    }
    return { state: gone ? "GONE" : state, meta, gone };
  }

  type Cmd = { kind: "UPDATE" | "DESTROY" | "TOUCH" | "DONE"; meta: Record<string, string> };
  const cmdArb: fc.Arbitrary<Cmd> = fc.record({
    kind: fc.constantFrom("UPDATE" as const, "DESTROY" as const, "TOUCH" as const, "DONE" as const),
    meta: fc.dictionary(fc.constantFrom("sha", "tag"), fc.string({ minLength: 1, maxLength: 3 }), {
      maxKeys: 1,
    }),
  });

  it("any interleaving ends as the reference says: each event applied in arrival order at the first state that handles it", () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 25 }), (commands) => {
        const deps = fakeDeps();
        let stack: Stack | null = applied(decide(machine, null, ev("LAUNCH", { machine: "ci" }), deps)).stack;
        commands.forEach((c, i) => {
          if (!stack) return;
          let event: EngineEvent;
          if (c.kind === "DONE") {
            const task = stack.tasks[0];
            if (task?.status !== "PENDING") return;
            event = ev("TASK_COMPLETED", { key: `k${i}`, task: task.name, token: task.token });
          } else {
            event = ev(c.kind, { key: `k${i}`, metadata: c.meta });
          }
          const d = decide(machine, stack, event, deps);
          if (d.outcome === "applied") stack = d.stack;
        });
        const want = reference(commands);
        if (want.gone) expect(stack).toBeNull();
        else {
          expect(stack?.state).toBe(want.state);
          expect(stack?.metadata).toEqual(want.meta);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("notifications", () => {
  it("tells each target what it asked for: state entered (RUN only), removal, refusals, failures for good", () => {
    const deps = fakeDeps();
    const s0 = applied(decide(machine, null, ev("LAUNCH", { machine: "ci" }), deps));
    // PROVISION is not one of team's states.
    expect(s0.notifications).toBeUndefined();
    const running = applied(
      decide(
        machine,
        s0.stack!,
        ev("TASK_COMPLETED", { task: "apply", token: s0.stack!.tasks[0]!.token }),
        deps,
      ),
    );
    expect(running.notifications?.map((n) => [n.target, n.kind, n.body.to])).toEqual([
      ["team", "state-entered", "RUN"],
    ]);
    expect(running.notifications?.[0]?.destination).toEqual({
      webhook: { url: "https://hooks.example/stackseam", secret: { env: "HOOK_SECRET" } },
    });

    const refused = decide(machine, running.stack!, ev("LAUNCH"), deps);
    expect(refused.notifications?.map((n) => [n.target, n.kind, n.body.summary])).toEqual([
      [
        "team",
        "event-refused",
        "s1: LAUNCH refused: state RUN does not handle LAUNCH (it handles: UPDATE, DESTROY, TOUCH)",
      ],
    ]);

    const updating = applied(decide(machine, running.stack!, ev("UPDATE"), deps)).stack!;
    const failed = applied(
      decide(
        machine,
        updating,
        ev("TASK_ERROR", {
          task: "apply",
          token: updating.tasks[0]!.token,
          description: "Warning: x\nError: Invalid reference\n  on main.tf line 3",
        }),
        deps,
      ),
    );
    expect(failed.notifications?.map((n) => [n.kind, n.body.task])).toEqual([
      ["task-failed", { name: "apply", attempt: 1, error: "Warning: x: Error: Invalid reference" }],
    ]);
    // A stale report tells nobody.
    expect(
      decide(machine, failed.stack!, ev("TASK_ERROR", { task: "apply", token: "old" }), deps).notifications,
    ).toBeUndefined();

    const back = applied(decide(machine, failed.stack!, ev("RETRY_FAILED_TASKS"), deps)).stack!;
    const run2 = applied(
      decide(machine, back, ev("TASK_COMPLETED", { task: "apply", token: back.tasks[0]!.token }), deps),
    ).stack!;
    const removed = applied(decide(machine, run2, ev("DESTROY"), deps));
    expect(removed.notifications?.map((n) => [n.target, n.kind])).toEqual([
      ["team", "stack-removed"],
      ["audit", "stack-removed"],
    ]);
  });
});
