import type { Stack } from "@stackseam/core";
import { describe, expect, it } from "vitest";
import { parseMeta } from "../src/commands/send.js";
import { renderTick } from "../src/commands/tick.js";
import { historyEventLabel, historyExtras, timerOfKey } from "../src/history-text.js";
import { findOutput } from "../src/stack-outputs.js";
import { relativeTime, roughDuration, timerEffect } from "../src/timer-text.js";

const NOW = new Date("2026-03-02T10:00:00.000Z");

function stack(outputs: Stack["outputs"]): Stack {
  return {
    id: "feature-1",
    machine: "qa-env",
    version: "v1",
    state: "RUN",
    metadata: {},
    tasks: [],
    entry: 2,
    createdAt: "2026-03-01T10:00:00.000Z",
    updatedAt: "2026-03-01T10:00:00.000Z",
    ...(outputs ? { outputs } : {}),
  };
}

describe("time in words", () => {
  it("keeps the two largest units", () => {
    expect(roughDuration(0)).toBe("0s");
    expect(roughDuration(999)).toBe("1s");
    expect(roughDuration(59_000)).toBe("59s");
    expect(roughDuration(250_000)).toBe("4m10s");
    expect(roughDuration(3 * 86_400_000 - 5_000)).toBe("2d23h");
    expect(roughDuration(2 * 86_400_000 + 5 * 60_000)).toBe("2d");
  });

  it("says in, ago or now", () => {
    expect(relativeTime("2026-03-02T10:00:03.000Z", NOW)).toBe("in 3s");
    expect(relativeTime("2026-03-02T09:58:00.000Z", NOW)).toBe("2m ago");
    expect(relativeTime("2026-03-02T10:00:00.400Z", NOW)).toBe("now");
  });

  it("says what each kind of timer does", () => {
    expect(timerEffect("timeout:provision-env")).toBe("times out task provision-env");
    expect(timerEffect("retry:provision-env")).toBe("retries task provision-env");
    expect(timerEffect("ttl", "DESTROY")).toBe("TTL: sends DESTROY");
    expect(timerEffect("ttl-warning", "DESTROY")).toBe("TTL warning (before DESTROY)");
    expect(timerEffect("ttl")).toBe("TTL: sends its event");
  });
});

describe("history rows the engine writes by itself", () => {
  it("names the timer a TIMER row fired, from its key", () => {
    const key = "timer:timeout:apply:2026-03-02T10:00:00.000Z";
    expect(timerOfKey(key)).toEqual({ name: "timeout:apply", dueAt: "2026-03-02T10:00:00.000Z" });
    expect(historyEventLabel({ event: "TIMER", eventKey: key })).toBe("TIMER timeout:apply");
    expect(historyEventLabel({ event: "TIMER", eventKey: "timer:ttl:2026-03-02T10:00:00.000Z" })).toBe(
      "TIMER ttl",
    );
    expect(historyEventLabel({ event: "TIMER", eventKey: "something-else" })).toBe("TIMER");
  });

  it("marks deferred events applied later, automatic upgrades and scheduled events", () => {
    expect(historyEventLabel({ event: "UPDATE", eventKey: "abc-123#deferred" })).toBe("UPDATE (deferred)");
    expect(historyEventLabel({ event: "UPGRADE_MACHINE", eventKey: "abc#upgrade" })).toBe(
      "UPGRADE_MACHINE (on state entry)",
    );
    expect(
      historyEventLabel({
        event: "FREEZE",
        eventKey: "schedule:qa-env:freeze-evenings:2026-03-02T18:00:00.000Z",
      }),
    ).toBe("FREEZE (schedule freeze-evenings)");
    expect(historyEventLabel({ event: "LAUNCH", eventKey: "7f0c-…" })).toBe("LAUNCH");
  });

  it("adds the outputs a report changed and tasks that were not dispatched", () => {
    expect(historyExtras({ outcome: "applied", detail: { outputsChanged: ["url", "id"] } })).toBe(
      "outputs changed: url, id",
    );
    expect(
      historyExtras({
        outcome: "applied",
        detail: { notDispatched: [{ task: "app", reason: "input vpc: network.vpc_id has no value" }] },
      }),
    ).toBe("not dispatched: app (input vpc: network.vpc_id has no value)");
    expect(historyExtras({ outcome: "applied", detail: null })).toBe("");
  });
});

describe("stacks outputs <id> <name>", () => {
  const s = stack({
    network: { vpc_id: { value: "vpc-1", sensitive: false }, token: { sensitive: true } },
    app: { url: { value: "https://a.test", sensitive: false }, vpc_id: { value: "vpc-2", sensitive: false } },
    "db.primary": { port: { value: 5432, sensitive: false } },
  });

  it("finds a name one task reports, or task.name (task names may hold dots)", () => {
    expect(findOutput(s, "url")).toMatchObject({ ok: true, output: { task: "app", name: "url" } });
    expect(findOutput(s, "network.vpc_id")).toMatchObject({
      ok: true,
      output: { value: { value: "vpc-1" } },
    });
    expect(findOutput(s, "db.primary.port")).toMatchObject({ ok: true, output: { value: { value: 5432 } } });
  });

  it("refuses an ambiguous, missing or sensitive name with the reason", () => {
    expect(findOutput(s, "vpc_id")).toEqual({
      ok: false,
      reason: "output vpc_id is reported by 2 tasks: name one as network.vpc_id or app.vpc_id",
    });
    const missing = findOutput(s, "nope");
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.reason).toContain(
      "stack feature-1 has no output nope; its outputs: network.vpc_id",
    );
    const sensitive = findOutput(s, "token");
    expect(!sensitive.ok && sensitive.reason).toMatch(
      /^output network\.token is sensitive: its value never leaves/,
    );
    expect(findOutput(stack(undefined), "url")).toEqual({
      ok: false,
      reason: "stack feature-1 has no outputs yet (a task reports them when it completes), so none named url",
    });
  });
});

describe("stackseam tick's report", () => {
  it("prints one line per timer fired and a summary", () => {
    const text = renderTick({
      timersFired: 2,
      timersStale: 1,
      timersFailed: 0,
      scheduleEvents: 3,
      schedulesCompleted: 1,
      outboxResent: 0,
      outOfTime: false,
      ms: 42,
      fired: [
        { stackId: "feature-1", timer: "ttl", dueAt: "", to: "TEARDOWN", note: "TTL idle for 3d: DESTROY" },
        { stackId: "f-2", timer: "timeout:apply", dueAt: "", to: "PROVISION", note: null },
      ],
      schedules: [
        {
          machine: "qa-env",
          schedule: "freeze-evenings",
          occurrence: "2026-03-02T18:00:00.000Z",
          next: "2026-03-03T18:00:00.000Z",
        },
      ],
      problems: [],
      notes: [],
    });
    expect(text).toBe(
      [
        "feature-1  TIMER ttl → TEARDOWN  TTL idle for 3d: DESTROY",
        "f-2        TIMER timeout:apply → PROVISION",
        "schedule qa-env/freeze-evenings: occurrence 2026-03-02T18:00:00.000Z fired; next 2026-03-03T18:00:00.000Z",
        "tick: 2 timers fired, 1 no longer set, 1 schedule occurrence (3 events), 0 task messages re-sent in 42 ms",
        "",
      ].join("\n"),
    );
  });
});

describe("send --meta", () => {
  it("k:=null removes the key (the event carries null)", () => {
    expect(parseMeta("commit:=null")).toEqual({ key: "commit", value: null });
    expect(parseMeta("tags:=[1]")).toEqual({
      error:
        "--meta tags:=[1]: metadata values are strings, numbers or booleans (flat, no objects or arrays), or null to remove the key",
    });
  });
});
