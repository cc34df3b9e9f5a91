import { describe, expect, it } from "vitest";
import { type Decision, type Deps, type Stack, timersOf, ttlDue, ttlFor } from "../src/index.js";
import { appliedDecision as applied, decide, ev, machineFrom } from "./support.js";

// Timers and TTLs at their edges (docs/spec-reference.md "ttl", "timeout", "retry"): which of idle
// and age comes first, EXTEND_TTL against the machine's TTL, a state's own TTL, TIMER and
// EXTEND_TTL events that cannot be acted on. Expected instants are worked out from the spec text.

const HOUR = 3_600_000;
const T0 = Date.parse("2026-02-02T08:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

function clock(start = T0) {
  let now = start;
  let n = 0;
  const deps: Deps = { now: () => new Date(now), newToken: () => `t${++n}`, random: () => 0.5 };
  return {
    deps,
    advance(ms: number) {
      now += ms;
    },
  };
}

const stackOf = (d: Decision): Stack => {
  const s = applied(d).stack;
  if (!s) throw new Error("removed");
  return s;
};
const timer = (name: string, dueAt: string) =>
  ev("TIMER", { key: `timer:${name}:${dueAt}`, timer: { name, dueAt } });

const SPEC = (ttl: string) => `
version: 1
events: [LAUNCH, TOUCH, DESTROY, FREEZE]
ttl: ${ttl}
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply, check]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      TOUCH: [{ action: no-op }]
      DESTROY: [{ action: advance, state: GONE }]
      FREEZE: [{ action: advance, state: FROZEN }]
  FROZEN:
    ttl: { age: 2h, event: DESTROY }
    on:
      DESTROY: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
tasks:
  apply:
    executor: lambda
    config: { name: apply }
    timeout: 20m
    retry: { attempts: 2, delay: 1m, jitter: none }
  check:
    executor: lambda
    config: { name: check }
    timeout: 10m
`;

/** A stack in RUN, launched at T0 and done with its tasks one minute later. */
function running(ttl: string) {
  const machine = machineFrom(SPEC(ttl), "env");
  const c = clock();
  const launched = stackOf(decide(machine, null, ev("LAUNCH", { machine: "env" }), c.deps));
  c.advance(60_000);
  let stack = launched;
  for (const task of launched.tasks)
    stack = stackOf(
      decide(
        machine,
        stack,
        ev("TASK_COMPLETED", { key: `done-${task.name}`, task: task.name, token: task.token }),
        c.deps,
      ),
    );
  expect(stack.state).toBe("RUN");
  return { machine, c, stack };
}

describe("which TTL limit comes first", () => {
  it("age before idle: the stack is older than its age limit before it is idle for long", () => {
    const { machine, stack } = running("{ idle: 3h, age: 2h, event: DESTROY }");
    expect(ttlDue(machine, stack)).toMatchObject({ at: iso(T0 + 2 * HOUR), why: "older than 2h" });
  });

  it("idle before age", () => {
    const { machine, stack } = running("{ idle: 1h, age: 5h, event: DESTROY }");
    expect(ttlDue(machine, stack)).toMatchObject({ at: iso(T0 + HOUR), why: "idle for 1h" });
  });

  it("on a tie the idle limit is the reason given", () => {
    // LAUNCH (from outside) at T0 is the last activity: idle and age both end at T0 + 2h.
    const { machine, stack } = running("{ idle: 2h, age: 2h, event: DESTROY }");
    expect(stack.activeAt).toBe(iso(T0));
    expect(ttlDue(machine, stack)).toMatchObject({ at: iso(T0 + 2 * HOUR), why: "idle for 2h" });
  });

  it("a stack that never saw an event from outside counts idle time from its creation", () => {
    const { machine, stack } = running("{ idle: 1h, event: DESTROY }");
    const { activeAt: _, ...old } = stack;
    expect(ttlDue(machine, old as Stack)?.at).toBe(iso(Date.parse(stack.createdAt) + HOUR));
  });

  it("EXTEND_TTL to a time before the TTL changes nothing; after it, it wins", () => {
    const { machine, stack } = running("{ age: 4h, event: DESTROY }");
    const earlier = { ...stack, ttl: { until: iso(T0 + HOUR) } };
    expect(ttlDue(machine, earlier)).toMatchObject({ at: iso(T0 + 4 * HOUR), why: "older than 4h" });
    const later = { ...stack, ttl: { until: iso(T0 + 6 * HOUR) } };
    expect(ttlDue(machine, later)).toMatchObject({
      at: iso(T0 + 6 * HOUR),
      why: `kept until ${iso(T0 + 6 * HOUR)} (EXTEND_TTL)`,
    });
  });

  it("a state's own TTL applies there; a state the machine does not know has none", () => {
    const { machine, c, stack } = running("{ idle: 3h, event: DESTROY }");
    const frozen = stackOf(decide(machine, stack, ev("FREEZE"), c.deps));
    expect(ttlFor(machine, "FROZEN")).toEqual({ age: "2h", event: "DESTROY" });
    expect(timersOf(machine, frozen)).toEqual([{ name: "ttl", dueAt: iso(T0 + 2 * HOUR) }]);
    expect(ttlFor(machine, "MELTED")).toBeUndefined();
    expect(timersOf(machine, { ...frozen, state: "MELTED" })).toEqual([]);
  });
});

describe("timers of a stack", () => {
  it("lists every timer by name: retries, then timeouts, then the TTL and its warning", () => {
    const machine = machineFrom(SPEC("{ idle: 6h, event: DESTROY, warn: 1h }"), "env");
    const c = clock();
    const launched = stackOf(decide(machine, null, ev("LAUNCH", { machine: "env" }), c.deps));
    // A state's tasks run before the TTL matters: PROVISION does not handle DESTROY, so no TTL yet.
    expect(timersOf(machine, launched).map((t) => t.name)).toEqual(["timeout:apply", "timeout:check"]);
    const apply = launched.tasks.find((t) => t.name === "apply")!;
    c.advance(60_000);
    const failed = stackOf(
      decide(
        machine,
        launched,
        ev("TASK_ERROR", { task: "apply", token: apply.token, description: "boom" }),
        c.deps,
      ),
    );
    expect(timersOf(machine, failed)).toEqual([
      { name: "retry:apply", dueAt: iso(T0 + 2 * 60_000) },
      { name: "timeout:check", dueAt: iso(T0 + 10 * 60_000) },
    ]);
  });
});

describe("TIMER and EXTEND_TTL that cannot be acted on", () => {
  it("refuses a TIMER without its timer", () => {
    const { machine, c, stack } = running("{ idle: 1h, event: DESTROY }");
    expect(decide(machine, stack, ev("TIMER"), c.deps)).toMatchObject({
      outcome: "refused",
      reason: "a TIMER event must name its timer and due time",
    });
  });

  it("refuses EXTEND_TTL without ttl or with something that is not a duration", () => {
    const { machine, c, stack } = running("{ idle: 1h, event: DESTROY }");
    expect(decide(machine, stack, ev("EXTEND_TTL"), c.deps)).toMatchObject({
      outcome: "refused",
      reason: "EXTEND_TTL needs ttl: a duration from now (like 3d), never, or default",
    });
    expect(decide(machine, stack, ev("EXTEND_TTL", { ttl: "soon" }), c.deps)).toMatchObject({
      outcome: "refused",
      reason: 'EXTEND_TTL: "soon" is not a duration, never or default',
    });
  });

  it("a warning the tick delivers after the TTL itself was due says the event comes now", () => {
    const { machine, c, stack } = running("{ idle: 2h, event: DESTROY, warn: 30m }");
    const warning = timersOf(machine, stack).find((t) => t.name === "ttl-warning")!;
    expect(warning.dueAt).toBe(iso(T0 + 90 * 60_000));
    c.advance(3 * HOUR);
    const warned = applied(decide(machine, stack, timer("ttl-warning", warning.dueAt), c.deps));
    expect(warned.note).toBe(`TTL warning: DESTROY now (${iso(T0 + 2 * HOUR)}), idle for 2h`);
    expect(warned.detail.ttl).toEqual({ event: "DESTROY", dueAt: iso(T0 + 2 * HOUR), why: "idle for 2h" });
  });

  it("a retry timer sends the failed task again, and only it, saying which attempt of how many", () => {
    const machine = machineFrom(SPEC("{ idle: 6h, event: DESTROY }"), "env");
    const c = clock();
    const launched = stackOf(decide(machine, null, ev("LAUNCH", { machine: "env" }), c.deps));
    const apply = launched.tasks.find((t) => t.name === "apply")!;
    const failed = stackOf(
      decide(
        machine,
        launched,
        ev("TASK_ERROR", { task: "apply", token: apply.token, description: "boom" }),
        c.deps,
      ),
    );
    const retry = timersOf(machine, failed).find((t) => t.name === "retry:apply")!;
    c.advance(HOUR);
    const retried = applied(decide(machine, failed, timer("retry:apply", retry.dueAt), c.deps));
    expect(retried.note).toBe("retried task apply after its backoff (attempt 2 of 2)");
    // Only apply is sent again; check keeps its attempt.
    expect(retried.dispatch.map((d) => [d.task, d.attempt])).toEqual([["apply", 2]]);
    expect(retried.stack?.tasks.find((t) => t.name === "check")).toEqual(
      launched.tasks.find((t) => t.name === "check"),
    );
  });
});
