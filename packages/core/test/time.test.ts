import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Decision,
  type Deps,
  type EngineEvent,
  formatDuration,
  nextOccurrence,
  parseDuration,
  retryDelayMs,
  retryPolicy,
  type Stack,
  timersOf,
} from "../src/index.js";
import { appliedDecision as applied, decide, ev, machineFrom } from "./support.js";

const HOUR = 3_600_000;
const T0 = Date.parse("2026-01-05T10:00:00Z");

/** A clock the test moves by hand; tokens t1, t2, …; jitter draws from `randoms`. */
function clock(start = T0, randoms: number[] = []) {
  let now = start;
  let n = 0;
  const deps: Deps = {
    now: () => new Date(now),
    newToken: () => `t${++n}`,
    random: () => randoms.shift() ?? 0.5,
  };
  return {
    deps,
    advance(ms: number) {
      now += ms;
    },
    at: () => new Date(now).toISOString(),
  };
}

const SPEC = `
version: 1
events: [LAUNCH, TOUCH, DESTROY]
ttl: { idle: 3h, event: DESTROY, warn: 1h }
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      TOUCH: [{ action: no-op }]
      DESTROY: [{ action: advance, state: TEARDOWN }]
  TEARDOWN:
    terminal: true
    tasks: [destroy]
tasks:
  apply:
    executor: lambda
    config: { name: apply }
    timeout: 20m
    retry: { attempts: 3, delay: 30s, backoff: 2, maxDelay: 5m }
  destroy:
    executor: lambda
    config: { name: destroy }
`;
const machine = machineFrom(SPEC, "qa");

const stackOf = (d: Decision): Stack => {
  const s = applied(d).stack;
  if (!s) throw new Error("removed");
  return s;
};
const report = (name: string, task: string, token: string, extra: Partial<EngineEvent> = {}) =>
  ev(name, { task, token, ...extra });
const timer = (name: string, dueAt: string) =>
  ev("TIMER", { key: `timer:${name}:${dueAt}`, timer: { name, dueAt } });

describe("durations", () => {
  it("reads what the docs allow and refuses the rest", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("20m")).toBe(1_200_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("3d")).toBe(259_200_000);
    expect(parseDuration("250ms")).toBe(250);
    for (const bad of ["", "m", "1.5h", "30m1h", "1 h", "-5s", "5"])
      expect(parseDuration(bad)).toBeUndefined();
  });

  it("formats any whole number of milliseconds back to itself", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});

describe("retry backoff", () => {
  const policyArb = fc.record({
    attempts: fc.integer({ min: 1, max: 10 }),
    delay: fc.constantFrom("1s", "10s", "30s", "2m"),
    backoff: fc.double({ min: 1, max: 10, noNaN: true }),
    maxDelay: fc.constantFrom("1m", "10m", "1h"),
    jitter: fc.constantFrom("full" as const, "none" as const),
  });

  it("stays within [0, min(maxDelay, delay × backoff^(n-1))], exact without jitter, never shrinking", () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.integer({ min: 1, max: 12 }),
        fc.double({ min: 0, max: 0.9999, noNaN: true }),
        (r, n, random) => {
          const policy = retryPolicy({ executor: "lambda", config: { name: "f" }, retry: r });
          if (!policy) throw new Error("no policy");
          const delay = parseDuration(r.delay)!;
          const cap = Math.min(parseDuration(r.maxDelay)!, delay * r.backoff ** (n - 1));
          const got = retryDelayMs(policy, n, random);
          expect(got).toBeGreaterThanOrEqual(0);
          expect(got).toBeLessThanOrEqual(cap);
          if (r.jitter === "none") {
            expect(got).toBe(cap);
            expect(retryDelayMs(policy, n + 1, random)).toBeGreaterThanOrEqual(got);
          }
        },
      ),
    );
  });
});

describe("cron schedules across daylight saving changes", () => {
  // Expected instants worked out by hand from the 2026 changes: Europe/Berlin moves 02:00 → 03:00
  // on 29 March and 03:00 → 02:00 on 25 October; America/New_York 02:00 → 03:00 on 8 March and
  // 02:00 → 01:00 on 1 November.
  it("fires a time the spring change skips at the first minute after the gap", () => {
    expect(nextOccurrence("30 2 * * *", "Europe/Berlin", new Date("2026-03-28T12:00:00Z"))).toBe(
      "2026-03-29T01:00:00.000Z",
    );
    expect(nextOccurrence("30 2 * * *", "America/New_York", new Date("2026-03-07T12:00:00Z"))).toBe(
      "2026-03-08T07:00:00.000Z",
    );
  });

  it("fires a time the autumn change repeats once", () => {
    const berlin: string[] = [];
    let t = new Date("2026-10-24T12:00:00Z");
    for (let i = 0; i < 3; i++) {
      t = new Date(nextOccurrence("30 2 * * *", "Europe/Berlin", t)!);
      berlin.push(t.toISOString());
    }
    expect(berlin).toEqual([
      "2026-10-25T00:30:00.000Z",
      "2026-10-26T01:30:00.000Z",
      "2026-10-27T01:30:00.000Z",
    ]);
    const ny: string[] = [];
    t = new Date("2026-10-31T12:00:00Z");
    for (let i = 0; i < 2; i++) {
      t = new Date(nextOccurrence("30 1 * * *", "America/New_York", t)!);
      ny.push(t.toISOString());
    }
    expect(ny).toEqual(["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
  });

  it("keeps weekday evenings at 19:00 local on both sides of a change", () => {
    expect(nextOccurrence("0 19 * * 1-5", "Europe/Berlin", new Date("2026-10-23T18:00:00Z"))).toBe(
      "2026-10-26T18:00:00.000Z",
    );
    expect(nextOccurrence("0 19 * * 1-5", "Europe/Berlin", new Date("2026-10-22T12:00:00Z"))).toBe(
      "2026-10-22T17:00:00.000Z",
    );
  });
});

describe("timeouts, retries and heartbeats", () => {
  function launched() {
    const c = clock();
    const stack = stackOf(decide(machine, null, ev("LAUNCH", { machine: "qa" }), c.deps));
    return { c, stack };
  }

  it("a dispatched attempt carries its deadline, in the stack and in the task message", () => {
    const c = clock();
    const d = applied(decide(machine, null, ev("LAUNCH", { machine: "qa" }), c.deps));
    const deadline = new Date(T0 + 20 * 60_000).toISOString();
    expect(d.stack?.tasks[0]).toMatchObject({ name: "apply", deadline, dispatchedAt: c.at() });
    expect(d.tasks[0]?.message.deadline).toBe(deadline);
    expect(d.timers).toContainEqual({ name: "timeout:apply", dueAt: deadline });
  });

  it("times out a silent attempt, retries it after its backoff with a new token, then gives up", () => {
    const { c, stack } = launched();
    const first = stack.tasks[0]!;
    c.advance(20 * 60_000);
    const timedOut = stackOf(decide(machine, stack, timer("timeout:apply", first.deadline!), c.deps));
    expect(timedOut.tasks[0]).toMatchObject({ status: "ERROR", attempt: 1, token: first.token });
    expect(timedOut.tasks[0]?.description).toMatch(/^timed out after 20m/);
    const retryAt = new Date(Date.parse(c.at()) + 30_000).toISOString();
    expect(timedOut.tasks[0]?.retryAt).toBe(retryAt);

    c.advance(30_000);
    const retried = applied(decide(machine, timedOut, timer("retry:apply", retryAt), c.deps));
    expect(retried.stack?.tasks[0]).toMatchObject({ status: "PENDING", attempt: 2 });
    expect(retried.stack?.tasks[0]?.token).not.toBe(first.token);
    expect(retried.dispatch).toHaveLength(1);
    // A late report of the timed-out attempt is stale now: its token is not the current one.
    expect(
      decide(machine, retried.stack!, report("TASK_COMPLETED", "apply", first.token), c.deps).outcome,
    ).toBe("ignored");

    // Attempt 2 fails by report: the second retry waits delay × backoff = 60s.
    c.advance(1000);
    const second = retried.stack!.tasks[0]!;
    const failed2 = stackOf(
      decide(
        machine,
        retried.stack!,
        report("TASK_ERROR", "apply", second.token, { description: "boom" }),
        c.deps,
      ),
    );
    expect(failed2.tasks[0]?.retryAt).toBe(new Date(Date.parse(c.at()) + 60_000).toISOString());

    // Attempt 3 is the last one: its failure waits for a person.
    c.advance(60_000);
    const third = stackOf(decide(machine, failed2, timer("retry:apply", failed2.tasks[0]!.retryAt!), c.deps));
    const last = stackOf(
      decide(
        machine,
        third,
        report("TASK_ERROR", "apply", third.tasks[0]!.token, { description: "boom" }),
        c.deps,
      ),
    );
    expect(last.tasks[0]).toMatchObject({ status: "ERROR", attempt: 3 });
    expect(last.tasks[0]?.retryAt).toBeUndefined();
    expect(timersOf(machine, last).filter((t) => t.name.startsWith("retry"))).toEqual([]);
  });

  it("a heartbeat restarts the timeout; a late completion of a timed-out attempt still counts before its retry", () => {
    const { c, stack } = launched();
    const token = stack.tasks[0]!.token;
    c.advance(15 * 60_000);
    const beat = applied(decide(machine, stack, report("TASK_HEARTBEAT", "apply", token), c.deps));
    const pushed = new Date(Date.parse(c.at()) + 20 * 60_000).toISOString();
    expect(beat.stack?.tasks[0]?.deadline).toBe(pushed);
    expect(beat.timers).toContainEqual({ name: "timeout:apply", dueAt: pushed });
    // The old deadline's timer is stale now.
    c.advance(5 * 60_000);
    expect(
      decide(machine, beat.stack!, timer("timeout:apply", stack.tasks[0]!.deadline!), c.deps).outcome,
    ).toBe("ignored");

    c.advance(15 * 60_000);
    const timedOut = stackOf(decide(machine, beat.stack!, timer("timeout:apply", pushed), c.deps));
    const done = applied(decide(machine, timedOut, report("TASK_COMPLETED", "apply", token), c.deps));
    expect(done.stack?.state).toBe("RUN");
  });
});

describe("TTL", () => {
  function running() {
    const c = clock();
    const launched = stackOf(decide(machine, null, ev("LAUNCH", { machine: "qa" }), c.deps));
    const run = stackOf(
      decide(machine, launched, report("TASK_COMPLETED", "apply", launched.tasks[0]!.token), c.deps),
    );
    return { c, run };
  }

  it("counts idle time from the last event from outside: a touch restarts it, reports and timers do not", () => {
    const { c, run } = running();
    // LAUNCH (at T0) was the last event from outside; the report did not restart it.
    expect(timersOf(machine, run)).toEqual([
      { name: "ttl", dueAt: new Date(T0 + 3 * HOUR).toISOString() },
      { name: "ttl-warning", dueAt: new Date(T0 + 2 * HOUR).toISOString() },
    ]);
    c.advance(HOUR);
    const touched = applied(decide(machine, run, ev("TOUCH", { key: "touch-1" }), c.deps));
    expect(touched.timers).toEqual([
      { name: "ttl", dueAt: new Date(T0 + 4 * HOUR).toISOString() },
      { name: "ttl-warning", dueAt: new Date(T0 + 3 * HOUR).toISOString() },
    ]);
  });

  it("warns once, then sends its event once; EXTEND_TTL keeps or exempts a stack", () => {
    const { c, run } = running();
    c.advance(2 * HOUR);
    const warned = applied(
      decide(machine, run, timer("ttl-warning", new Date(T0 + 2 * HOUR).toISOString()), c.deps),
    );
    expect(warned.note).toMatch(/^TTL warning: DESTROY in 1h/);
    expect(warned.timers).toEqual([{ name: "ttl", dueAt: new Date(T0 + 3 * HOUR).toISOString() }]);

    const kept = applied(
      decide(machine, warned.stack!, ev("EXTEND_TTL", { key: "keep", ttl: "1d" }), c.deps),
    );
    expect(kept.stack?.ttl).toEqual({ until: new Date(T0 + 26 * HOUR).toISOString() });
    expect(kept.timers?.find((t) => t.name === "ttl")?.dueAt).toBe(new Date(T0 + 26 * HOUR).toISOString());
    const exempt = applied(
      decide(machine, kept.stack!, ev("EXTEND_TTL", { key: "never", ttl: "never" }), c.deps),
    );
    expect(exempt.timers).toEqual([]);
    const back = applied(
      decide(machine, exempt.stack!, ev("EXTEND_TTL", { key: "default", ttl: "default" }), c.deps),
    );
    expect(back.stack?.ttl).toBeUndefined();

    c.advance(3 * HOUR);
    const due = timersOf(machine, back.stack!).find((t) => t.name === "ttl")!;
    const fired = applied(decide(machine, back.stack!, timer("ttl", due.dueAt), c.deps));
    expect(fired).toMatchObject({ to: "TEARDOWN", path: ["TEARDOWN"] });
    expect(fired.dispatch.map((d) => d.task)).toEqual(["destroy"]);
    // TEARDOWN does not handle DESTROY: no TTL there.
    expect(fired.timers).toEqual([]);
  });

  it("ignores a timer that is not (or no longer) set", () => {
    const { c, run } = running();
    expect(decide(machine, run, timer("ttl", "2020-01-01T00:00:00.000Z"), c.deps)).toMatchObject({
      outcome: "ignored",
      reason: "timer ttl (due 2020-01-01T00:00:00.000Z) is no longer set: the stack changed since",
    });
    const due = timersOf(machine, run).find((t) => t.name === "ttl")!;
    expect(decide(machine, run, timer("ttl", due.dueAt), c.deps)).toMatchObject({
      outcome: "ignored",
      reason: `timer ttl is not due until ${due.dueAt}`,
    });
  });
});

describe("a TTL that fires while its event is deferred", () => {
  const DEFERS = `
version: 1
events: [LAUNCH, DESTROY]
ttl: { idle: 1h, event: DESTROY }
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
      DESTROY: [{ action: defer }]
  RUN:
    on:
      DESTROY: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
tasks:
  apply: { executor: lambda, config: { name: apply } }
`;
  const m = machineFrom(DEFERS, "slow");

  it("keeps the event like any deferred one and applies it when the stack reaches a state that handles it", () => {
    const c = clock();
    const provisioning = stackOf(decide(m, null, ev("LAUNCH", { machine: "slow" }), c.deps));
    c.advance(2 * HOUR);
    const due = timersOf(m, provisioning).find((t) => t.name === "ttl")!;
    const fired = applied(decide(m, provisioning, timer("ttl", due.dueAt), c.deps));
    expect(fired.note).toBe(
      "TTL idle for 1h: DESTROY deferred in PROVISION, applied when the stack enters a state that handles it",
    );
    expect(fired.stack?.deferred?.map((d) => [d.name, d.key])).toEqual([["DESTROY", `ttl:${due.dueAt}`]]);
    const done = applied(
      decide(m, fired.stack!, report("TASK_COMPLETED", "apply", provisioning.tasks[0]!.token), c.deps),
    );
    expect(done).toMatchObject({ removed: true, stack: null, path: ["RUN", "GONE"] });
  });
});
