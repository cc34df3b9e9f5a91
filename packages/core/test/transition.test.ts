import { describe, expect, it } from "vitest";
import { CoreError, type Stack, taskMessage } from "../src/index.js";
import { applied, ev, fakeDeps, machineFrom, stackOf, step as transition } from "./support.js";

const SPEC = `
version: 1
events: [LAUNCH, FREEZE, DESTROY, TOUCH, JUMP, SKIP, ABORT, REPROVISION, CLEAN]
x-destroy: &destroy
  DESTROY: [{ action: advance, state: TEARDOWN }]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
      SKIP:
        - action: no-op
        - { action: advance, state: PROVISION }
        - { action: advance, state: RUN }
      ABORT: [{ action: advance, state: GONE }]
  PROVISION:
    tasks: [infra, app]
    on:
      <<: *destroy
      NEXT: [{ action: advance, state: DEPLOY }]
      REPROVISION: [{ action: advance, state: PROVISION }]
  DEPLOY:
    tasks: [deploy]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      <<: *destroy
      TOUCH: [{ action: no-op }]
      FREEZE: [{ action: advance, state: FROZEN }]
      JUMP: [{ action: advance, state: FROZEN }, { action: advance, state: PROVISION }]
      ABORT: [{ action: advance, state: GONE }, { action: advance, state: RUN }]
      CLEAN: [{ action: advance, state: CLEANUP }]
  FROZEN:
    tasks: [freeze]
    on:
      <<: *destroy
      NEXT: [{ action: no-op }]
  CLEANUP:
    tasks: [wipe]
    on:
      NEXT: [{ action: advance, state: GONE }]
  TEARDOWN:
    terminal: true
    tasks: [destroy]
  GONE:
    terminal: true
tasks:
  infra: { executor: terraform, config: { action: apply, source: { type: local, location: ./infra } } }
  app: { executor: lambda, config: { name: deploy-app, args: { size: small } } }
  deploy: { executor: lambda, config: { name: deploy } }
  freeze: { executor: lambda, config: { name: freeze } }
  wipe: { executor: lambda, config: { name: wipe } }
  destroy: { executor: lambda, config: { name: destroy } }
`;
const machine = machineFrom(SPEC, "qa");
const launch = ev("LAUNCH", { machine: "qa", metadata: { apiImageTag: "e724e90" } });

/** A stack in `state` with the given tasks (tokens named after the tasks). */
function stackIn(state: string, tasks: Stack["tasks"] = [], metadata: Stack["metadata"] = {}): Stack {
  return {
    id: "s1",
    machine: "qa",
    version: machine.version,
    state,
    metadata,
    tasks,
    entry: 3,
    createdAt: "2024-12-31T00:00:00.000Z",
    updatedAt: "2024-12-31T00:00:00.000Z",
  };
}
const pending = (name: string, attempt = 1) => ({
  name,
  status: "PENDING" as const,
  token: `tok-${name}`,
  attempt,
});
const satisfied = (name: string) => ({
  name,
  status: "SATISFIED" as const,
  token: `tok-${name}`,
  attempt: 1,
});
const failed = (name: string) => ({
  name,
  status: "ERROR" as const,
  token: `tok-${name}`,
  attempt: 1,
  description: "boom",
});
const report = (
  name: "TASK_COMPLETED" | "TASK_ERROR",
  task: string,
  token = `tok-${task}`,
  description?: string,
) => ev(name, description === undefined ? { task, token } : { task, token, description });

describe("a new stack", () => {
  it("is created in INIT by its first event and advanced, dispatching the new state's tasks", () => {
    const result = applied(transition(machine, null, launch, fakeDeps()));
    expect(result).toEqual({
      outcome: "applied",
      from: null,
      to: "PROVISION",
      path: ["PROVISION"],
      removed: false,
      dispatch: [
        { task: "infra", token: "t1", attempt: 1 },
        { task: "app", token: "t2", attempt: 1 },
      ],
      stack: {
        id: "s1",
        machine: "qa",
        version: machine.version,
        state: "PROVISION",
        metadata: { apiImageTag: "e724e90" },
        tasks: [
          {
            name: "infra",
            status: "PENDING",
            token: "t1",
            attempt: 1,
            dispatchedAt: "2025-01-01T00:00:01.000Z",
          },
          {
            name: "app",
            status: "PENDING",
            token: "t2",
            attempt: 1,
            dispatchedAt: "2025-01-01T00:00:01.000Z",
          },
        ],
        entry: 1,
        createdAt: "2025-01-01T00:00:01.000Z",
        updatedAt: "2025-01-01T00:00:01.000Z",
        enteredAt: "2025-01-01T00:00:01.000Z",
        activeAt: "2025-01-01T00:00:01.000Z",
      },
    });
  });

  it("is refused when the first event does not name its machine", () => {
    expect(transition(machine, null, ev("LAUNCH"), fakeDeps())).toEqual({
      outcome: "refused",
      from: null,
      reason: "stack s1 does not exist, and its first event must name a machine",
    });
  });

  it("is refused when INIT does not handle the first event", () => {
    expect(transition(machine, null, ev("FREEZE", { machine: "qa" }), fakeDeps())).toEqual({
      outcome: "refused",
      from: null,
      reason: "state INIT does not handle FREEZE (it handles: LAUNCH, SKIP, ABORT)",
    });
  });

  it("is refused for an event the machine does not declare", () => {
    expect(transition(machine, null, ev("EXPLODE", { machine: "qa" }), fakeDeps())).toMatchObject({
      outcome: "refused",
      reason:
        "unknown event EXPLODE for machine qa (events: LAUNCH, FREEZE, DESTROY, TOUCH, JUMP, SKIP, ABORT, REPROVISION, CLEAN)",
    });
  });

  it("is refused when the event names another machine than the one loaded", () => {
    expect(transition(machine, null, ev("LAUNCH", { machine: "other" }), fakeDeps())).toMatchObject({
      outcome: "refused",
      reason: "the event names machine other, but machine qa was loaded for it",
    });
  });

  it("ignores a report and refuses a retry for a stack that does not exist", () => {
    expect(transition(machine, null, report("TASK_COMPLETED", "infra"), fakeDeps())).toEqual({
      outcome: "ignored",
      from: null,
      reason: "stale report: stack s1 does not exist (it may have been removed)",
    });
    expect(transition(machine, null, ev("RETRY_FAILED_TASKS"), fakeDeps())).toMatchObject({
      outcome: "refused",
      reason: "stack s1 does not exist, so there is nothing to retry",
    });
  });

  it("entering a terminal state without tasks removes it at once", () => {
    const result = applied(transition(machine, null, ev("ABORT", { machine: "qa" }), fakeDeps()));
    expect(result).toMatchObject({
      stack: null,
      removed: true,
      from: null,
      to: "GONE",
      path: ["GONE"],
      dispatch: [],
    });
  });
});

describe("refusals", () => {
  it("refuses NEXT from outside", () => {
    const result = transition(machine, stackIn("RUN"), ev("NEXT"), fakeDeps());
    expect(result).toEqual({
      outcome: "refused",
      from: "RUN",
      reason:
        "NEXT is internal: the engine fires it when every task of a state is satisfied, so it cannot be sent from outside",
    });
  });

  it("refuses an event for another machine", () => {
    expect(transition(machine, stackIn("RUN"), ev("TOUCH", { machine: "legacy" }), fakeDeps())).toEqual({
      outcome: "refused",
      from: "RUN",
      reason: "stack s1 runs machine qa, but this event names machine legacy",
    });
  });

  it("refuses an event the current state does not handle, naming what it handles", () => {
    expect(transition(machine, stackIn("RUN"), ev("LAUNCH"), fakeDeps())).toEqual({
      outcome: "refused",
      from: "RUN",
      reason: "state RUN does not handle LAUNCH (it handles: DESTROY, TOUCH, FREEZE, JUMP, ABORT, CLEAN)",
    });
    expect(
      transition(machine, stackIn("DEPLOY", [pending("deploy")]), ev("TOUCH"), fakeDeps()),
    ).toMatchObject({
      reason: "state DEPLOY does not handle TOUCH (it handles no events)",
    });
  });

  it("refuses a stack whose state the machine no longer defines", () => {
    expect(transition(machine, stackIn("OLD-STATE"), ev("TOUCH"), fakeDeps())).toMatchObject({
      outcome: "refused",
      reason: "stack s1 is in state OLD-STATE, which machine qa does not define",
    });
  });

  it("refuses a report without task or token", () => {
    expect(
      transition(machine, stackIn("DEPLOY", [pending("deploy")]), ev("TASK_COMPLETED"), fakeDeps()),
    ).toMatchObject({
      outcome: "refused",
      reason: "a TASK_COMPLETED report must name its task and dispatch token",
    });
  });
});

describe("advance and actions", () => {
  it("no-op changes nothing but the merged metadata", () => {
    const stack = stackIn("RUN", [], { a: 1, b: "x" });
    const result = applied(
      transition(machine, stack, ev("TOUCH", { metadata: { b: "y", c: true } }), fakeDeps()),
    );
    expect(result).toMatchObject({ from: "RUN", to: "RUN", path: [], dispatch: [], removed: false });
    expect(result.stack).toEqual({
      ...stack,
      metadata: { a: 1, b: "y", c: true },
      updatedAt: "2025-01-01T00:00:01.000Z",
      activeAt: "2025-01-01T00:00:01.000Z",
    });
  });

  it("applies several actions in order and dispatches only the final state's tasks", () => {
    const deps = fakeDeps();
    const result = applied(transition(machine, stackIn("RUN"), ev("JUMP"), deps));
    expect(result.path).toEqual(["FROZEN", "PROVISION"]);
    expect(result.to).toBe("PROVISION");
    expect(result.dispatch.map((d) => d.task)).toEqual(["infra", "app"]);
    expect(deps.tokens).toEqual(["t1", "t2"]);
    expect(result.stack).toMatchObject({ state: "PROVISION", entry: 5 });
  });

  it("a non-terminal state without tasks is stable: NEXT is not fired", () => {
    const result = applied(transition(machine, null, ev("SKIP", { machine: "qa" }), fakeDeps()));
    expect(result).toMatchObject({ to: "RUN", path: ["PROVISION", "RUN"], dispatch: [] });
    expect(result.stack).toMatchObject({ state: "RUN", tasks: [], entry: 2 });
  });

  it("entering a terminal state without tasks ends processing: later actions are not applied", () => {
    const result = applied(transition(machine, stackIn("RUN"), ev("ABORT"), fakeDeps()));
    expect(result).toMatchObject({ stack: null, removed: true, to: "GONE", path: ["GONE"], dispatch: [] });
  });

  it("re-entering the same state starts a new entry with fresh tokens", () => {
    const stack = stackIn("PROVISION", [satisfied("infra"), failed("app")]);
    const result = applied(transition(machine, stack, ev("REPROVISION"), fakeDeps()));
    expect(result.stack!.entry).toBe(4);
    expect(result.stack!.tasks).toEqual([
      { name: "infra", status: "PENDING", token: "t1", attempt: 1, dispatchedAt: "2025-01-01T00:00:01.000Z" },
      { name: "app", status: "PENDING", token: "t2", attempt: 1, dispatchedAt: "2025-01-01T00:00:01.000Z" },
    ]);
    const late = transition(machine, result.stack, report("TASK_COMPLETED", "app"), fakeDeps());
    expect(late.outcome).toBe("ignored");
  });

  it("does not mutate the stack it is given", () => {
    const stack = stackIn("PROVISION", [pending("infra"), pending("app")], { a: 1 });
    const copy = structuredClone(stack);
    transition(machine, stack, report("TASK_COMPLETED", "infra"), fakeDeps());
    transition(machine, stack, ev("DESTROY", { metadata: { a: 2 } }), fakeDeps());
    expect(stack).toEqual(copy);
  });
});

describe("task reports", () => {
  const provisioning = stackIn("PROVISION", [pending("infra"), pending("app")]);

  it("TASK_COMPLETED satisfies one task; the stack waits for the others", () => {
    const result = applied(transition(machine, provisioning, report("TASK_COMPLETED", "infra"), fakeDeps()));
    expect(result).toMatchObject({ from: "PROVISION", to: "PROVISION", path: [], dispatch: [] });
    expect(result.note).toBe("task infra satisfied (1 of 2)");
    expect(result.stack!.tasks).toEqual([
      { ...satisfied("infra"), finishedAt: "2025-01-01T00:00:01.000Z" },
      pending("app"),
    ]);
  });

  it("the last TASK_COMPLETED fires NEXT, which advances and dispatches (cascade)", () => {
    const stack = stackIn("PROVISION", [satisfied("infra"), pending("app")]);
    const result = applied(transition(machine, stack, report("TASK_COMPLETED", "app"), fakeDeps()));
    expect(result).toMatchObject({
      from: "PROVISION",
      to: "DEPLOY",
      path: ["DEPLOY"],
      dispatch: [{ task: "deploy", token: "t1", attempt: 1 }],
      note: "NEXT fired: all 2 tasks of PROVISION satisfied",
    });
    expect(result.stack).toMatchObject({
      state: "DEPLOY",
      entry: 4,
      tasks: [pending("deploy")].map((t) => ({ ...t, token: "t1" })),
    });
  });

  it("NEXT into a terminal state without tasks removes the stack", () => {
    const result = applied(
      transition(
        machine,
        stackIn("CLEANUP", [pending("wipe")]),
        report("TASK_COMPLETED", "wipe"),
        fakeDeps(),
      ),
    );
    expect(result).toMatchObject({ stack: null, removed: true, to: "GONE", path: ["GONE"] });
  });

  it("a NEXT handler that only no-ops leaves the stack in place, satisfied", () => {
    const result = applied(
      transition(
        machine,
        stackIn("FROZEN", [pending("freeze")]),
        report("TASK_COMPLETED", "freeze"),
        fakeDeps(),
      ),
    );
    expect(result).toMatchObject({ to: "FROZEN", path: [], dispatch: [], removed: false });
    expect(result.stack!.tasks).toEqual([{ ...satisfied("freeze"), finishedAt: "2025-01-01T00:00:01.000Z" }]);
  });

  it("a terminal state with tasks removes the stack once they are all satisfied", () => {
    const deps = fakeDeps();
    const entered = applied(transition(machine, stackIn("RUN"), ev("DESTROY"), deps));
    expect(entered.dispatch).toEqual([{ task: "destroy", token: "t1", attempt: 1 }]);
    const done = applied(transition(machine, entered.stack, report("TASK_COMPLETED", "destroy", "t1"), deps));
    expect(done).toEqual({
      outcome: "applied",
      stack: null,
      removed: true,
      from: "TEARDOWN",
      to: "TEARDOWN",
      path: [],
      dispatch: [],
      note: "all 1 task of TEARDOWN satisfied: terminal state, stack removed",
    });
  });

  it("ignores a report whose token belongs to an earlier dispatch", () => {
    const result = transition(machine, provisioning, report("TASK_COMPLETED", "infra", "old"), fakeDeps());
    expect(result).toEqual({
      outcome: "ignored",
      from: "PROVISION",
      reason: "stale report: token old belongs to an earlier dispatch of task infra (current attempt: 1)",
    });
  });

  it("ignores a report for a task the current state does not have", () => {
    expect(
      transition(machine, provisioning, report("TASK_ERROR", "deploy", "x", "late"), fakeDeps()),
    ).toEqual({
      outcome: "ignored",
      from: "PROVISION",
      reason: "stale report: deploy is not a task of state PROVISION (the stack has moved on)",
    });
  });

  it("ignores a duplicate TASK_COMPLETED", () => {
    const stack = stackIn("PROVISION", [satisfied("infra"), pending("app")]);
    expect(transition(machine, stack, report("TASK_COMPLETED", "infra"), fakeDeps())).toEqual({
      outcome: "ignored",
      from: "PROVISION",
      reason: "duplicate report: task infra is already satisfied",
    });
  });

  it("TASK_ERROR marks the task ERROR with its description and the stack waits", () => {
    const result = applied(
      transition(
        machine,
        provisioning,
        report("TASK_ERROR", "infra", "tok-infra", "terraform: exit 1"),
        fakeDeps(),
      ),
    );
    expect(result).toMatchObject({ to: "PROVISION", path: [], dispatch: [] });
    expect(result.stack!.tasks).toEqual([
      {
        ...pending("infra"),
        status: "ERROR",
        description: "terraform: exit 1",
        finishedAt: "2025-01-01T00:00:01.000Z",
      },
      pending("app"),
    ]);
  });

  it("ignores TASK_ERROR for a task that already failed or is satisfied, or with a stale token", () => {
    const stack = stackIn("PROVISION", [failed("infra"), satisfied("app")]);
    expect(
      transition(machine, stack, report("TASK_ERROR", "infra", "tok-infra", "again"), fakeDeps()),
    ).toMatchObject({
      outcome: "ignored",
      reason: "duplicate report: task infra has already failed",
    });
    expect(
      transition(machine, stack, report("TASK_ERROR", "app", "tok-app", "late"), fakeDeps()),
    ).toMatchObject({
      outcome: "ignored",
      reason: "duplicate report: task app is already satisfied",
    });
    expect(transition(machine, stack, report("TASK_ERROR", "infra", "older", "x"), fakeDeps()).outcome).toBe(
      "ignored",
    );
  });

  it("a TASK_COMPLETED for the same dispatch of a failed task satisfies it", () => {
    const stack = stackIn("PROVISION", [failed("infra"), pending("app")]);
    const result = applied(transition(machine, stack, report("TASK_COMPLETED", "infra"), fakeDeps()));
    expect(result.stack!.tasks[0]).toEqual({ ...satisfied("infra"), finishedAt: "2025-01-01T00:00:01.000Z" });
  });

  it("reports do not merge metadata", () => {
    const stack = stackIn("PROVISION", [pending("infra"), pending("app")], { a: 1 });
    const result = applied(
      transition(machine, stack, { ...report("TASK_COMPLETED", "infra"), metadata: { a: 2 } }, fakeDeps()),
    );
    expect(result.stack!.metadata).toEqual({ a: 1 });
  });
});

describe("retries", () => {
  it("RETRY_FAILED_TASKS re-sends failed tasks with a new token and attempt; the old token becomes stale", () => {
    const stack = stackIn("PROVISION", [failed("infra"), pending("app")]);
    const result = applied(
      transition(machine, stack, ev("RETRY_FAILED_TASKS", { metadata: { tag: "v2" } }), fakeDeps()),
    );
    expect(result.dispatch).toEqual([{ task: "infra", token: "t1", attempt: 2 }]);
    expect(result.stack!.tasks).toEqual([
      { name: "infra", status: "PENDING", token: "t1", attempt: 2, dispatchedAt: "2025-01-01T00:00:01.000Z" },
      pending("app"),
    ]);
    expect(result.stack!.metadata).toEqual({ tag: "v2" });
    expect(result.note).toBe("re-sent 1 failed task");
    expect(transition(machine, result.stack, report("TASK_COMPLETED", "infra"), fakeDeps()).outcome).toBe(
      "ignored",
    );
  });

  it("RETRY_FAILED_TASKS with nothing failed is ignored", () => {
    expect(
      transition(machine, stackIn("PROVISION", [pending("infra")]), ev("RETRY_FAILED_TASKS"), fakeDeps()),
    ).toEqual({
      outcome: "ignored",
      from: "PROVISION",
      reason: "no failed tasks to retry in state PROVISION",
    });
  });

  it("RETRY_PENDING_TASKS re-sends pending tasks only", () => {
    const stack = stackIn("PROVISION", [pending("infra", 2), satisfied("app")]);
    const result = applied(transition(machine, stack, ev("RETRY_PENDING_TASKS"), fakeDeps()));
    expect(result.dispatch).toEqual([{ task: "infra", token: "t1", attempt: 3 }]);
    expect(result.stack!.tasks[1]).toEqual(satisfied("app"));
    const late = transition(
      machine,
      result.stack,
      report("TASK_COMPLETED", "infra", "tok-infra"),
      fakeDeps(),
    );
    expect(late).toMatchObject({
      outcome: "ignored",
      reason: expect.stringMatching(/^stale report: token tok-infra/),
    });
  });

  it("RETRY_PENDING_TASKS with nothing pending is ignored", () => {
    expect(transition(machine, stackIn("RUN"), ev("RETRY_PENDING_TASKS"), fakeDeps())).toMatchObject({
      outcome: "ignored",
      reason: "no pending tasks to retry in state RUN",
    });
  });
});

describe("taskMessage", () => {
  it("builds the task-queue message from the machine, the stack and the dispatch", () => {
    const result = applied(transition(machine, null, launch, fakeDeps()));
    const [first, second] = result.dispatch;
    const now = new Date("2025-02-03T04:05:06Z");
    expect(taskMessage(machine, result.stack!, first!, now)).toEqual({
      stackId: "s1",
      machine: "qa",
      state: "PROVISION",
      task: "infra",
      executor: "terraform",
      config: { action: "apply", source: { type: "local", location: "./infra" } },
      metadata: { apiImageTag: "e724e90" },
      token: "t1",
      attempt: 1,
      dispatchedAt: "2025-02-03T04:05:06.000Z",
    });
    const message = taskMessage(machine, result.stack!, second!, now);
    (message.config.args as Record<string, unknown>).size = "huge";
    expect(machine.tasks.get("app")!.config).toEqual({ name: "deploy-app", args: { size: "small" } });
  });

  it("throws for a task the machine does not define (a programming error)", () => {
    expect(() =>
      taskMessage(machine, stackIn("RUN"), { task: "nope", token: "t", attempt: 1 }, new Date()),
    ).toThrow(CoreError);
  });
});

describe("a whole life", () => {
  it("LAUNCH → PROVISION → DEPLOY → RUN → TEARDOWN → removed", () => {
    const deps = fakeDeps();
    let stack = stackOf(transition(machine, null, launch, deps));
    stack = stackOf(transition(machine, stack, report("TASK_COMPLETED", "infra", "t1"), deps));
    stack = stackOf(transition(machine, stack, report("TASK_COMPLETED", "app", "t2"), deps));
    expect(stack.state).toBe("DEPLOY");
    stack = stackOf(transition(machine, stack, report("TASK_COMPLETED", "deploy", "t3"), deps));
    expect(stack).toMatchObject({ state: "RUN", tasks: [], entry: 3 });
    stack = stackOf(transition(machine, stack, ev("DESTROY"), deps));
    const end = applied(transition(machine, stack, report("TASK_COMPLETED", "destroy", "t4"), deps));
    expect(end.removed).toBe(true);
  });
});
