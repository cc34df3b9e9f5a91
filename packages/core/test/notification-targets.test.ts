import { describe, expect, it } from "vitest";
import { type Decision, initialTransition, transition } from "../src/index.js";
import { appliedDecision as applied, decide, ev, fakeDeps, machineFrom } from "./support.js";

// Notification targets as docs/spec-reference.md ("Notifications") describes them: an unnamed
// target is called notifications[<index>], and each target keeps its own destination.

const SPEC = `version: 1
events: [LAUNCH, DESTROY]
notifications:
  - on: [event-refused, state-entered]
    eventbridge: { bus: ops-bus, source: acme.envs, detailType: Stack change }
  - name: chat
    on: [state-entered]
    states: [RUN]
    webhook: { url: "https://hooks.example/T0/B0", format: slack }
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: RUN }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: GONE }]
  GONE: { terminal: true }
`;
const machine = machineFrom(SPEC, "envs");

describe("notification targets", () => {
  it("an unnamed EventBridge target is named by its index and keeps its bus, source and detail type", () => {
    const d = applied(decide(machine, null, ev("LAUNCH", { machine: "envs" }), fakeDeps()));
    expect(d.notifications?.map((n) => [n.target, n.kind, n.body.to])).toEqual([
      ["notifications[0]", "state-entered", "RUN"],
      ["chat", "state-entered", "RUN"],
    ]);
    expect(d.notifications?.[0]?.destination).toEqual({
      eventbridge: { bus: "ops-bus", source: "acme.envs", detailType: "Stack change" },
    });
    expect(d.notifications?.[1]?.destination).toEqual({
      webhook: { url: "https://hooks.example/T0/B0", format: "slack" },
    });
  });

  it("a refused event that does not carry its stack id is told with the stack's id", () => {
    const deps = fakeDeps();
    const run = applied(decide(machine, null, ev("LAUNCH", { machine: "envs" }), deps)).stack!;
    const { stackId: _, ...launch } = ev("LAUNCH", { key: "again" });
    const d = transition({ ok: true, machine }, run, launch, deps);
    expect(d.outcome).toBe("refused");
    expect(d.notifications).toHaveLength(1);
    expect(d.notifications?.[0]).toMatchObject({
      target: "notifications[0]",
      kind: "event-refused",
      body: {
        stackId: "s1",
        machine: "envs",
        state: "RUN",
        version: run.version,
        event: { name: "LAUNCH", key: "again" },
        reason: "state RUN does not handle LAUNCH (it handles: DESTROY)",
        summary: "s1: LAUNCH refused: state RUN does not handle LAUNCH (it handles: DESTROY)",
      },
    });
  });

  it("a first event without a stack id is refused and told for a stack named (unknown)", () => {
    const { stackId: _, ...launch } = ev("LAUNCH", { machine: "envs" });
    const d = initialTransition({ ok: true, machine }, launch, fakeDeps());
    expect(d.outcome).toBe("refused");
    expect(d.notifications?.map((n) => [n.target, n.body.stackId, n.body.summary])).toEqual([
      [
        "notifications[0]",
        "(unknown)",
        "(unknown): LAUNCH refused: the event does not say which stack it is for (stackId)",
      ],
    ]);
  });

  it("a refused TIMER is not told: only events from outside are", () => {
    const deps = fakeDeps();
    const run = applied(decide(machine, null, ev("LAUNCH", { machine: "envs" }), deps)).stack!;
    const d = transition({ ok: true, machine }, run, ev("TIMER"), deps);
    expect(d).toMatchObject({ outcome: "refused", reason: "a TIMER event must name its timer and due time" });
    expect(d.notifications).toBeUndefined();
  });
});
