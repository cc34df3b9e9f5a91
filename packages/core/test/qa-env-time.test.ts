import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Decision, type Deps, type Stack, timersOf, ttlDue } from "../src/index.js";
import { decide, ev, machineFrom } from "./support.js";

// The example machine's time, checked against its own words: frozen on weekday evenings and
// thawed in the morning by its schedules, destroyed after 3 idle days, with a warning a day before.
const qaEnv = machineFrom(
  readFileSync(new URL("../../../examples/specs/qa-env.yml", import.meta.url), "utf8"),
  "qa-env",
);

const DAY = 86_400_000;

function clock(start: string) {
  let now = Date.parse(start);
  let n = 0;
  const deps: Deps = { now: () => new Date(now), newToken: () => `t${++n}`, random: () => 0.5 };
  return {
    deps,
    set(at: string) {
      now = Date.parse(at);
    },
  };
}

function stackOf(d: Decision): Stack {
  if (d.outcome !== "applied" || !d.stack) throw new Error(`expected a stack, got ${d.outcome}`);
  return d.stack;
}

/** LAUNCH at `at`, its provisioning reported done a second later: the stack in RUN. */
function running(c: ReturnType<typeof clock>, at: string): Stack {
  c.set(at);
  let s = stackOf(decide(qaEnv, null, ev("LAUNCH", { stackId: "feature-1", machine: "qa-env" }), c.deps));
  c.set(new Date(Date.parse(at) + 1000).toISOString());
  const task = s.tasks[0]!;
  s = stackOf(decide(qaEnv, s, ev("TASK_COMPLETED", { task: task.name, token: task.token }), c.deps));
  expect(s.state).toBe("RUN");
  return s;
}

describe("examples/specs/qa-env.yml: time", () => {
  it("a stack in RUN is destroyed after 3 idle days, warned a day before", () => {
    const c = clock("2026-03-02T09:00:00Z");
    const s = running(c, "2026-03-02T09:00:00Z");
    expect(timersOf(qaEnv, s)).toEqual([
      { name: "ttl", dueAt: "2026-03-05T09:00:00.000Z" },
      { name: "ttl-warning", dueAt: "2026-03-04T09:00:00.000Z" },
    ]);
    expect(ttlDue(qaEnv, s)?.ttl.event).toBe("DESTROY");
  });

  it("the evening FREEZE and morning THAW of its schedules do not keep a stack alive; an UPDATE does", () => {
    const c = clock("2026-03-02T09:00:00Z");
    let s = running(c, "2026-03-02T09:00:00Z");
    const due = ttlDue(qaEnv, s)!.at;
    // Monday 19:00 Berlin (18:00 UTC): the schedule's FREEZE, as the tick sends it.
    c.set("2026-03-02T18:00:00Z");
    s = stackOf(
      decide(
        qaEnv,
        s,
        ev("FREEZE", {
          key: "schedule:qa-env:freeze-evenings:2026-03-02T18:00:00.000Z",
          scheduled: { name: "freeze-evenings", occurrence: "2026-03-02T18:00:00.000Z" },
        }),
        c.deps,
      ),
    );
    expect(s.state).toBe("FREEZING");
    s = stackOf(
      decide(qaEnv, s, ev("TASK_COMPLETED", { task: "freeze-env", token: s.tasks[0]!.token }), c.deps),
    );
    expect(s.state).toBe("FROZEN");
    expect(ttlDue(qaEnv, s)?.at).toBe(due);
    // Tuesday 07:00 Berlin: THAW.
    c.set("2026-03-03T06:00:00Z");
    s = stackOf(
      decide(
        qaEnv,
        s,
        ev("THAW", {
          key: "schedule:qa-env:thaw-mornings:2026-03-03T06:00:00.000Z",
          scheduled: { name: "thaw-mornings", occurrence: "2026-03-03T06:00:00.000Z" },
        }),
        c.deps,
      ),
    );
    s = stackOf(
      decide(qaEnv, s, ev("TASK_COMPLETED", { task: "thaw-env", token: s.tasks[0]!.token }), c.deps),
    );
    expect(s.state).toBe("RUN");
    expect(ttlDue(qaEnv, s)?.at).toBe(due);
    // A push (UPDATE from a pipeline) is activity: the 3 days start again from it.
    c.set("2026-03-03T12:00:00Z");
    s = stackOf(decide(qaEnv, s, ev("UPDATE", { metadata: { apiImageTag: "v2" } }), c.deps));
    expect(ttlDue(qaEnv, s)?.at).toBe(new Date(Date.parse("2026-03-03T12:00:00Z") + 3 * DAY).toISOString());
  });

  it("defers UPDATE and DESTROY during PROVISION and applies them, in order, on entering RUN", () => {
    const c = clock("2026-03-02T09:00:00Z");
    let s = stackOf(decide(qaEnv, null, ev("LAUNCH", { stackId: "feature-2", machine: "qa-env" }), c.deps));
    s = stackOf(decide(qaEnv, s, ev("UPDATE", { key: "u1", metadata: { apiImageTag: "v2" } }), c.deps));
    expect(s.deferred?.map((d) => d.name)).toEqual(["UPDATE"]);
    const done = decide(
      qaEnv,
      s,
      ev("TASK_COMPLETED", { task: "provision-env", token: s.tasks[0]!.token }),
      c.deps,
    );
    const next = stackOf(done);
    // RUN handles the UPDATE at once: back to PROVISION with the new tag.
    expect(next.state).toBe("PROVISION");
    expect(next.metadata.apiImageTag).toBe("v2");
    expect(done.also?.map((a) => [a.key, a.outcome])).toEqual([["u1#deferred", "applied"]]);
  });
  it("says which timers an event left as they were, so their rows are not rewritten", () => {
    const c = clock("2026-03-02T09:00:00Z");
    const launched = stackOf(
      decide(qaEnv, null, ev("LAUNCH", { stackId: "feature-1", machine: "qa-env" }), c.deps),
    );
    const task = launched.tasks[0]!;
    // The report a second later: the attempt's timeout goes; the TTL still counts from the LAUNCH
    // (a task report is not activity from outside), so both TTL timers stay where they were.
    c.set("2026-03-02T09:00:01Z");
    const done = decide(
      qaEnv,
      launched,
      ev("TASK_COMPLETED", { task: task.name, token: task.token }),
      c.deps,
    );
    expect(done.outcome === "applied" && done.timers).toEqual([
      { name: "ttl", dueAt: "2026-03-05T09:00:00.000Z" },
      { name: "ttl-warning", dueAt: "2026-03-04T09:00:00.000Z" },
    ]);
    expect(done.outcome === "applied" && done.timersKept).toEqual(["ttl", "ttl-warning"]);
    // A TOUCH an hour later moves both: none is kept.
    c.set("2026-03-02T10:00:01Z");
    const touched = decide(qaEnv, stackOf(done), ev("TOUCH", {}), c.deps);
    expect(touched.outcome === "applied" && touched.timers).toEqual([
      { name: "ttl", dueAt: "2026-03-05T10:00:01.000Z" },
      { name: "ttl-warning", dueAt: "2026-03-04T10:00:01.000Z" },
    ]);
    expect(touched.outcome === "applied" && touched.timersKept).toBeUndefined();
  });
});
