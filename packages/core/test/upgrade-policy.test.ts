import { describe, expect, it } from "vitest";
import { type Decision, type Machine, type Stack, transition, upgradeProblems } from "../src/index.js";
import { appliedDecision as applied, ev, fakeDeps, machineFrom } from "./support.js";

// docs/spec-reference.md, "Versions and upgrades": under `upgrade: on-state-entry` a stack moves
// to the newest version when it next enters a state that version has; UPGRADE_MACHINE moves it
// on demand, or says why it cannot.

const V1 = `version: 1
events: [LAUNCH, DEPLOY, TOUCH, DESTROY]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: RUN}]
  RUN:
    on:
      DEPLOY: [{action: advance, state: DEPLOYING}]
      TOUCH: [{action: no-op}]
      DESTROY: [{action: advance, state: DONE}]
  DEPLOYING:
    tasks: [deploy]
    on:
      NEXT: [{action: advance, state: RUN}]
      DESTROY: [{action: defer}]
  DONE: {terminal: true}
tasks:
  deploy: {executor: lambda, config: {name: deploy-v1}}
`;
// The newest version: a new deploy function, notifications, and stacks move on state entry.
const V2 = `${V1.replace("deploy-v1", "deploy-v2").replace("events:", "upgrade: on-state-entry\nevents:")}notifications:
  - name: team
    on: [state-entered]
    webhook: {url: "https://hooks.example/deploys"}
`;

const v1 = machineFrom(V1);
const v2 = machineFrom(V2);

function runningOnV1(deps = fakeDeps()): Stack {
  return applied(transition({ ok: true, machine: v1 }, { ...blank(), state: "INIT" }, ev("LAUNCH"), deps))
    .stack!;
}

function blank(): Stack {
  const at = "2026-01-01T00:00:00.000Z";
  return {
    id: "s1",
    machine: "m",
    version: v1.version,
    state: "INIT",
    entry: 0,
    tasks: [],
    metadata: {},
    createdAt: at,
    updatedAt: at,
  };
}

describe("upgrade: on-state-entry", () => {
  it("a stack entering a state moves to the newest version and runs its tasks", () => {
    expect(v1.version).not.toBe(v2.version);
    const deps = fakeDeps();
    const stack = runningOnV1(deps);
    const d = applied(transition({ ok: true, machine: v1 }, stack, ev("DEPLOY"), deps, { latest: v2 }));
    expect(d.stack?.version).toBe(v2.version);
    expect(d.stack?.state).toBe("DEPLOYING");
    expect(d.detail.upgraded).toEqual({ from: v1.version, to: v2.version });
    expect(d.also).toEqual([
      {
        event: "UPGRADE_MACHINE",
        key: "k-DEPLOY#upgrade",
        outcome: "applied",
        from: "DEPLOYING",
        to: "DEPLOYING",
        detail: {
          upgraded: { from: v1.version, to: v2.version },
          note: `upgraded from version ${v1.version} to ${v2.version} on entering DEPLOYING (upgrade: on-state-entry)`,
        },
      },
    ]);
    // The task message is built from the new version's config.
    expect(d.tasks.map((t) => t.message.config)).toEqual([{ name: "deploy-v2" }]);
    // The version the stack runs after the event tells: v2 has a notification target, v1 none.
    expect(d.notifications?.map((n) => [n.target, n.kind, n.body.to])).toEqual([
      ["team", "state-entered", "DEPLOYING"],
    ]);
  });

  it("a no-op enters no state, so the stack stays on its version", () => {
    const deps = fakeDeps();
    const d = applied(
      transition({ ok: true, machine: v1 }, runningOnV1(deps), ev("TOUCH"), deps, { latest: v2 }),
    );
    expect(d.stack?.version).toBe(v1.version);
    expect(d.detail.upgraded).toBeUndefined();
  });

  it("a stack whose next state the newest version lacks stays on its version", () => {
    const v3 = machineFrom(V2.replaceAll("DEPLOYING", "ROLLING").replace("deploy-v2", "deploy-v3"));
    const deps = fakeDeps();
    const d = applied(
      transition({ ok: true, machine: v1 }, runningOnV1(deps), ev("DEPLOY"), deps, { latest: v3 }),
    );
    expect(d.stack?.version).toBe(v1.version);
    expect(d.tasks.map((t) => t.message.config)).toEqual([{ name: "deploy-v1" }]);
  });
});

describe("UPGRADE_MACHINE", () => {
  const upgrade = (stack: Stack, latest: Machine | undefined) =>
    transition(
      { ok: true, machine: v1 },
      stack,
      ev("UPGRADE_MACHINE", { machine: "m" }),
      fakeDeps(),
      latest ? { latest } : {},
    );

  it("is refused when the machine could not be loaded", () => {
    expect(upgrade(runningOnV1(), undefined)).toMatchObject({
      outcome: "refused",
      reason: "machine m could not be loaded, so there is no version to upgrade to",
    });
  });

  it("is ignored for a stack already on the newest version", () => {
    expect(upgrade(runningOnV1(), v1)).toMatchObject({
      outcome: "ignored",
      reason: `stack s1 already runs version ${v1.version} of machine m`,
    });
  });

  it("is refused with every reason the stack cannot move", () => {
    const deps = fakeDeps();
    const deploying = applied(transition({ ok: true, machine: v1 }, runningOnV1(deps), ev("DEPLOY"), deps))
      .stack!;
    const kept = applied(transition({ ok: true, machine: v1 }, deploying, ev("DESTROY"), deps)).stack!;
    expect(kept.deferred?.map((d) => d.name)).toEqual(["DESTROY"]);
    const v4 = machineFrom(
      V1.replaceAll("DEPLOYING", "ROLLING")
        .replaceAll("deploy", "roll")
        .replace("DESTROY]", "REMOVE]")
        .replaceAll("DESTROY:", "REMOVE:"),
    );
    expect(upgrade(kept, v4)).toMatchObject({
      outcome: "refused",
      reason: `stack s1 cannot move from version ${v1.version} to ${v4.version}: state DEPLOYING does not exist in version ${v4.version} (states: INIT, RUN, ROLLING, DONE); task deploy (PENDING) is not defined in version ${v4.version}; deferred event DESTROY is not an event of version ${v4.version}`,
    });
  });

  it("a version of another machine is never compatible", () => {
    const other = machineFrom(V1, "other");
    expect(upgradeProblems(runningOnV1(), other)).toEqual([
      `version ${other.version} is of machine other, not m`,
    ]);
  });

  it("a stack holding a deferred event the new version declares moves, keeping it", () => {
    const deps = fakeDeps();
    const deploying = applied(transition({ ok: true, machine: v1 }, runningOnV1(deps), ev("DEPLOY"), deps))
      .stack!;
    const kept = applied(transition({ ok: true, machine: v1 }, deploying, ev("DESTROY"), deps)).stack!;
    const d = applied(upgrade(kept, v2));
    expect(d.stack?.version).toBe(v2.version);
    expect(d.stack?.deferred?.map((e) => e.name)).toEqual(["DESTROY"]);
    expect(d.note).toBe(`upgraded from version ${v1.version} to ${v2.version}`);
  });
});

describe("a stack upgraded while a task it holds is running", () => {
  it("completing the task under a version whose state has no NEXT leaves the stack there, satisfied", () => {
    // v5's DEPLOYING runs no tasks and has no NEXT; deploy is still defined, so the stack can move.
    const V5 = V1.replace(
      "    tasks: [deploy]\n    on:\n      NEXT: [{action: advance, state: RUN}]\n",
      "    on:\n",
    );
    const v5 = machineFrom(V5);
    expect(v5.states.get("DEPLOYING")?.on?.NEXT).toBeUndefined();
    const deps = fakeDeps();
    const deploying = applied(transition({ ok: true, machine: v1 }, runningOnV1(deps), ev("DEPLOY"), deps))
      .stack!;
    const moved = applied(
      transition({ ok: true, machine: v1 }, deploying, ev("UPGRADE_MACHINE", { machine: "m" }), deps, {
        latest: v5,
      }),
    ).stack!;
    expect(moved.version).toBe(v5.version);
    const token = moved.tasks[0]!.token;
    const d = applied(
      transition({ ok: true, machine: v5 }, moved, ev("TASK_COMPLETED", { task: "deploy", token }), deps),
    );
    expect(d.stack?.state).toBe("DEPLOYING");
    expect(d.stack?.tasks.map((t) => [t.name, t.status])).toEqual([["deploy", "SATISFIED"]]);
    expect(d.note).toBe("all 1 task of DEPLOYING satisfied, but DEPLOYING has no NEXT handler");
  });
});
