// The wording of what the CLI prints, checked in-process on the pure functions behind it: the tick's
// summary (docs/cli.md "tick"), a wait's outcome and progress lines ("wait"), `stacks history`'s
// event column, `stacks show`'s TTL and data sections, and the version report of `specs diff/push`.
import { parseSpec, type Stack } from "@stackseam/core";
import type { HistoryEntry } from "@stackseam/state-manager";
import { describe, expect, it } from "vitest";
import { renderTick } from "../src/commands/tick.js";
import { historyEventLabel, historyExtras, scheduleOfKey } from "../src/history-text.js";
import { outputText, renderStackTime, type StackTime } from "../src/stack-time.js";
import { relativeTime, roughDuration, timerEffect, ttlEventOf, ttlStatus } from "../src/timer-text.js";
import type { Assessment } from "../src/versions/assess.js";
import type { GroupImpact, Impact } from "../src/versions/impact.js";
import { impactSummary, renderAssessment, renderChanges, renderGroups } from "../src/versions/render.js";
import { ProgressLines } from "../src/watch/progress.js";
import { progressText, resultJson, resultText } from "../src/watch/report.js";
import { humanDuration, parseTimeout } from "../src/watch/timeout.js";
import type { WaitResult } from "../src/watch/wait.js";

const SPEC = `version: 1
events: [LAUNCH, STOP]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: RUN }] } }
  RUN: { on: { STOP: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
`;
const machine = parseSpec(SPEC, { name: "m" }).machine!;

function stack(extra: Partial<Stack> = {}): Stack {
  return {
    id: "s-1",
    machine: "m",
    version: machine.version,
    state: "RUN",
    metadata: {},
    tasks: [],
    entry: 1,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

function history(extra: Partial<HistoryEntry>): HistoryEntry {
  return {
    id: 1,
    stackId: "s-1",
    machine: "m",
    event: "LAUNCH",
    eventKey: "k-1",
    outcome: "applied",
    reason: null,
    from: "RUN",
    to: "RUN",
    path: [],
    task: null,
    token: null,
    duplicate: false,
    detail: null,
    at: "2026-01-01T00:00:05.000Z",
    ...extra,
  };
}

describe("tick summary", () => {
  const base = {
    timersFired: 0,
    timersStale: 0,
    timersFailed: 0,
    scheduleEvents: 0,
    schedulesCompleted: 0,
    outboxResent: 0,
    outOfTime: false,
    ms: 12,
    fired: [],
    schedules: [],
    problems: [],
    notes: [],
  };

  it("a timer that fires without moving the stack has no arrow; a schedule without a next time none", () => {
    const out = renderTick({
      ...base,
      timersFired: 2,
      fired: [
        { stackId: "a", timer: "retry:apply", dueAt: "2026-01-01T00:00:00.000Z", to: null, note: null },
        { stackId: "long-stack", timer: "ttl", dueAt: "2026-01-01T00:00:00.000Z", to: "DONE", note: "ttl" },
      ],
      schedulesCompleted: 1,
      scheduleEvents: 1,
      schedules: [{ machine: "m", schedule: "once", occurrence: "2026-01-01T03:00:00.000Z", next: null }],
    });
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toBe("a           TIMER retry:apply");
    expect(lines[1]).toBe("long-stack  TIMER ttl → DONE  ttl");
    expect(lines[2]).toBe("schedule m/once: occurrence 2026-01-01T03:00:00.000Z fired");
    expect(lines[3]).toBe(
      "tick: 2 timers fired, 1 schedule occurrence (1 event), 0 task messages re-sent in 12 ms",
    );
  });

  it("names stale and failed timers, notes and problems, and says when it ran out of time", () => {
    const out = renderTick({
      ...base,
      timersFired: 1,
      timersStale: 2,
      timersFailed: 1,
      outboxResent: 1,
      outOfTime: true,
      notes: ["re-sent task messages left unsent"],
      problems: ["timer could not be fired; a later tick retries it (s-1 ttl): boom"],
    });
    expect(out.split("\n").slice(0, -1)).toEqual([
      "note: re-sent task messages left unsent",
      "problem: timer could not be fired; a later tick retries it (s-1 ttl): boom",
      "tick: 1 timer fired, 2 no longer set, 1 failed (a later tick retries), 0 schedule occurrences (0 events), 1 task message re-sent in 12 ms; out of time, more is due: run it again",
    ]);
  });
});

describe("wait: --timeout and durations", () => {
  it("accepts the spec's duration form and bare seconds, and refuses anything else", () => {
    expect(parseTimeout("90")).toBe(90_000);
    expect(parseTimeout("1h30m")).toBe(5_400_000);
    expect(parseTimeout("1d")).toBe(86_400_000);
    for (const bad of ["0", "0s", "ten", "5 m", "-3", ""]) {
      const r = parseTimeout(bad);
      expect(r).toBeInstanceOf(Error);
      expect((r as Error).message).toBe(
        `--timeout must be a positive duration such as 90s, 20m, 1h30m or 600 (seconds), got "${bad}"`,
      );
    }
  });

  it("words a duration for a person", () => {
    expect(humanDuration(1200)).toBe("1.2 s");
    expect(humanDuration(45_000)).toBe("45s");
    expect(humanDuration(3_720_000)).toBe("1h2m");
    expect(humanDuration(3_600_000)).toBe("1h");
    expect(humanDuration(3_605_000)).toBe("1h5s");
    expect(humanDuration(120_000)).toBe("2m");
  });
});

describe("wait: outcome lines", () => {
  const base: WaitResult = {
    result: "settled",
    stackId: "s-1",
    stack: null,
    failed: [],
    event: null,
    removal: null,
    waitingFor: null,
    waitedMs: 2000,
    mode: "listen",
    queries: 3,
  };

  it("a stack that settled by being removed", () => {
    expect(resultText(base)).toBe("s-1 removed (2.0 s)\n");
  });

  it("a failed task without a stack or description still names the retry", () => {
    const r: WaitResult = {
      ...base,
      result: "failed",
      failed: [{ name: "apply", status: "ERROR", token: "t", attempt: 2 }],
    };
    expect(resultText(r)).toBe(
      "s-1: task apply failed in ? (attempt 2): (no description)\n  retry with: stackseam send s-1 RETRY_FAILED_TASKS\n",
    );
    expect(resultJson(r)).toMatchObject({
      result: "failed",
      exitCode: 3,
      state: null,
      failed: [{ task: "apply", attempt: 2, description: null }],
      event: null,
    });
  });

  it("a removal without its row, and one whose row lacks the event", () => {
    expect(resultText({ ...base, result: "removed" })).toBe("s-1 was removed\n");
    const removal = history({ event: null, from: null, at: "2026-01-01T00:00:05.000Z" });
    expect(resultText({ ...base, result: "removed", removal })).toBe(
      "s-1 was removed: ? → removed on ? at 2026-01-01T00:00:05.000Z\n",
    );
  });

  it("a refusal without its event row says what is not known", () => {
    expect(resultText({ ...base, result: "refused" })).toBe(
      "s-1: the event (event ?) was refused in (no stack): no reason recorded\n",
    );
    expect(resultJson({ ...base, result: "refused" }).exitCode).toBe(6);
  });

  it("a timeout and an interruption without anything pending say not settled", () => {
    expect(resultText({ ...base, result: "timeout", waitedMs: 90_000 })).toBe(
      "s-1: timed out after 1m30s: not settled\n",
    );
    expect(resultText({ ...base, result: "interrupted" })).toBe(
      "s-1: interrupted after 2.0 s: not settled\n",
    );
    expect(resultText({ ...base, result: "interrupted", waitingFor: "task apply" })).toBe(
      "s-1: interrupted after 2.0 s: task apply\n",
    );
    expect(resultJson({ ...base, result: "interrupted" }).exitCode).toBe(130);
  });

  it("a progress line without a style is its time and text", () => {
    expect(progressText({ at: "2026-01-01T00:00:05.000Z", text: "LAUNCH applied in RUN" })).toBe(
      "2026-01-01T00:00:05.000Z  LAUNCH applied in RUN\n",
    );
  });
});

describe("wait: progress lines", () => {
  const at = "2026-01-01T00:00:05.000Z";

  it("skips duplicates; words refusals and ignored events", () => {
    const p = new ProgressLines();
    expect(p.lines(history({ duplicate: true }), null)).toEqual([]);
    expect(p.lines(history({ outcome: "refused", from: null, reason: null }), null)).toEqual([
      { at, text: "refused LAUNCH in (no stack): ?", style: "yellow" },
    ]);
    expect(p.lines(history({ outcome: "ignored", event: null, reason: "not handled" }), null)).toEqual([
      { at, text: "ignored ?: not handled", style: "dim" },
    ]);
  });

  it("a task error takes its retry time from the stack when the row has none", () => {
    const p = new ProgressLines();
    const task = {
      name: "apply",
      status: "ERROR" as const,
      token: "tok",
      attempt: 1,
      retryAt: "2026-01-01T00:01:00.000Z",
    };
    const lines = p.lines(
      history({ event: "TASK_ERROR", task: "apply", token: "tok" }),
      stack({ tasks: [task] }),
    );
    expect(lines).toEqual([{ at, text: "✗ apply failed; retry at 2026-01-01T00:01:00.000Z", style: "red" }]);
    // Without a stack or a description: just failed.
    expect(p.lines(history({ event: "TASK_ERROR", task: null, token: null }), null)).toEqual([
      { at, text: "✗ ? failed", style: "red" },
    ]);
  });

  it("a removal without a path; a path from no stack starts at INIT; malformed dispatches are left out", () => {
    const p = new ProgressLines();
    expect(p.lines(history({ event: "DESTROY", from: "RUN", detail: { removed: true } }), null)).toEqual([
      { at, text: "RUN → removed  on DESTROY", style: "bold" },
    ]);
    expect(p.lines(history({ from: null, path: ["RUN"], detail: { removed: true } }), null)).toEqual([
      { at, text: "INIT → RUN → removed  on LAUNCH", style: "bold" },
    ]);
    expect(
      p.lines(history({ detail: { dispatched: [{ task: "apply" }, null, "x"] } }), null).map((l) => l.text),
    ).toEqual(["LAUNCH applied in RUN"]);
    expect(p.lines(history({ detail: { dispatched: "apply" } }), null).map((l) => l.text)).toEqual([
      "LAUNCH applied in RUN",
    ]);
  });

  it("a completion names the attempt the stack dispatched before following started", () => {
    const p = new ProgressLines();
    p.know(stack({ tasks: [{ name: "apply", status: "PENDING", token: "tok", attempt: 3 }] }));
    p.know(null);
    expect(p.lines(history({ event: "TASK_COMPLETED", task: "apply", token: "tok" }), null)).toEqual([
      { at, text: "✓ apply (attempt 3)", style: "green" },
    ]);
  });
});

describe("stacks history: the event column and extras", () => {
  it("names what the engine sent by itself", () => {
    expect(historyEventLabel({ event: "TIMER", eventKey: "timer:ttl:2026-01-01T00:00:00.000Z" })).toBe(
      "TIMER ttl",
    );
    expect(historyEventLabel({ event: "TIMER", eventKey: "something-else" })).toBe("TIMER");
    expect(historyEventLabel({ event: null, eventKey: "k" })).toBe("?");
    expect(historyEventLabel({ event: "UPDATE", eventKey: "abc#upgrade" })).toBe("UPDATE (on state entry)");
    expect(
      historyEventLabel({ event: "STOP", eventKey: "schedule:m:nightly:2026-01-01T03:00:00.000Z" }),
    ).toBe("STOP (schedule nightly)");
    expect(scheduleOfKey("schedule:m")).toBeNull();
  });

  it("lists outputs not kept and tasks not dispatched, however the row words them", () => {
    expect(historyExtras({ detail: null, outcome: "applied" })).toBe("");
    expect(
      historyExtras({
        outcome: "applied",
        detail: {
          outputsProblem: "too large",
          notDispatched: [
            "plain",
            { task: "a", reason: "busy" },
            { task: "b", description: "gone" },
            { x: 1 },
            7,
          ],
        },
      }),
    ).toBe("outputs not kept: too large; not dispatched: plain; a (busy); b (gone); ?; 7");
  });
});

describe("timer wording", () => {
  it("says what each kind of timer does, with or without the TTL's event", () => {
    expect(timerEffect("timeout:apply")).toBe("times out task apply");
    expect(timerEffect("retry:apply")).toBe("retries task apply");
    expect(timerEffect("retry")).toBe("retries task ?");
    expect(timerEffect("timeout")).toBe("times out task ?");
    expect(timerEffect("ttl")).toBe("TTL: sends its event");
    expect(timerEffect("ttl-warning", "DESTROY")).toBe("TTL warning (before DESTROY)");
    expect(timerEffect("ttl-warning")).toBe("TTL warning");
    expect(timerEffect("custom")).toBe("custom");
  });

  it("relative times: unreadable, now, past; spans in two units", () => {
    const now = new Date("2026-01-01T00:00:00.000Z");
    expect(relativeTime("not a time", now)).toBe("-");
    expect(relativeTime("2026-01-01T00:00:00.400Z", now)).toBe("now");
    expect(relativeTime("2025-12-31T23:59:48.000Z", now)).toBe("12s ago");
    expect(roughDuration(0)).toBe("0s");
    expect(roughDuration(2 * 86_400_000)).toBe("2d");
    expect(ttlEventOf(null, "RUN")).toBeUndefined();
    expect(ttlEventOf(machine, null)).toBeUndefined();
  });
});

describe("stacks show: TTL and data", () => {
  const now = new Date("2026-01-01T00:00:00.000Z");
  const time = (extra: Partial<StackTime>): StackTime => ({
    timers: [],
    ttl: null,
    machineKnown: true,
    machineHasTtl: false,
    ...extra,
  });

  it("an exempt stack never expires", () => {
    const out = renderStackTime(stack({ ttl: { exempt: true } }), undefined, { local: false, now });
    expect(out).toContain("TTL       exempt: this stack never expires (EXTEND_TTL never)\n");
  });

  it("a stack whose machine version is unknown points at its ttl timer and says why", () => {
    const timers = [{ name: "ttl", dueAt: "2026-01-01T01:00:00.000Z" }];
    const unstored = renderStackTime(stack(), time({ timers, machineKnown: false, machineHasTtl: true }), {
      local: false,
      now,
    });
    expect(unstored).toContain(
      "TTL       see the ttl timer (the stack's machine version is not stored here)",
    );
    const broken = renderStackTime(
      stack(),
      time({ timers, machineKnown: false, machineHasTtl: true, machineProblem: "bad yaml" }),
      { local: false, now },
    );
    expect(broken).toContain("see the ttl timer (the stack's machine version could not be read: bad yaml)");
  });

  it("a TTL that fired, by the machine's ttl, with its warning sent and an extension that changes nothing", () => {
    const out = renderStackTime(
      stack({ ttl: { until: "2026-01-01T00:30:00.000Z" } }),
      time({
        machineHasTtl: true,
        ttl: {
          event: "DESTROY",
          dueAt: "2026-01-01T01:00:00.000Z",
          why: "2h after creation",
          from: "machine",
          warnAt: "2026-01-01T00:50:00.000Z",
          fired: false,
          warned: true,
        },
      }),
      { local: false, now },
    );
    expect(out).toContain("TTL       DESTROY in 1h (2026-01-01T01:00:00.000Z)\n");
    expect(out).toContain("          why: 2h after creation, by the machine's ttl\n");
    expect(out).toContain("          warning sent\n");
    expect(out).toContain(
      "          EXTEND_TTL kept it until 2026-01-01T00:30:00.000Z, earlier than this: no effect\n",
    );
    const fired = renderStackTime(
      stack(),
      time({
        machineHasTtl: true,
        ttl: {
          event: "DESTROY",
          dueAt: "2026-01-01T01:00:00.000Z",
          why: "x",
          from: "state",
          fired: true,
          warned: false,
        },
      }),
      { local: false, now },
    );
    expect(fired).toContain("TTL       DESTROY sent (it fired)\n");
    expect(fired).toContain("by the state's ttl");
  });

  it("one deferred event without metadata is one event", () => {
    const out = renderStackTime(
      stack({ deferred: [{ name: "UPDATE", at: "2026-01-01T00:00:00.000Z", key: "k-9" }] }),
      undefined,
      { local: false, now },
    );
    expect(out).toContain("Deferred  1 event, offered again at the next state entry (oldest first)");
    expect(out).toMatch(/UPDATE\s+2026-01-01T00:00:00\.000Z\s+k-9/);
  });
});

describe("specs diff/push: the version report", () => {
  const next = parseSpec(SPEC.replace("DONE: { terminal: true }", "DONE: { terminal: true }\n  EXTRA: {}"), {
    name: "m",
  }).machine!;
  const group = (g: Partial<GroupImpact["group"]>, extra: Partial<GroupImpact> = {}): GroupImpact => ({
    group: { version: machine.version, state: "RUN", tasks: [], count: 1, sample: ["s-1"], ...g },
    problems: [],
    onTarget: false,
    ...extra,
  });
  const impact = (extra: Partial<Impact>): Impact => ({
    to: next,
    live: 0,
    changes: [],
    groups: [],
    stranded: 0,
    unpinnedStranded: 0,
    autoUpgrade: false,
    mustForce: false,
    ...extra,
  });

  it("groups: already on the version, unpinned ones that move or strand, and more ids than shown", () => {
    const out = renderGroups(
      impact({
        live: 9,
        groups: [
          group({ version: next.version }, { onTarget: true }),
          group({ version: null, state: "HALTED" }),
          group({ version: null, state: "GONE" }, { problems: ["state GONE is gone"] }),
          group({ count: 7, sample: ["a", "b"] }),
        ],
      }),
    );
    const rows = out.trimEnd().split("\n");
    expect(rows[1]).toContain(`runs ${next.version}`);
    expect(rows[2]).toMatch(/^\(none\)\s+HALTED\s+-\s+1\s+s-1\s+runs it from its next event$/);
    expect(rows[3]).toContain("stranded at its next event: state GONE is gone");
    expect(rows[4]).toMatch(/7\s+a, b, …\s+can move$/);
  });

  it("changes without live stacks known have no stacks column", () => {
    const out = renderChanges(
      { changes: [{ change: "added", subject: "state", name: "EXTRA" }] } as never,
      null,
    );
    expect(out.split("\n")[0]).not.toContain("stacks");
    expect(out).toMatch(/added\s+state EXTRA/);
  });

  it("a change whose count is missing counts 0 stacks", () => {
    const out = renderChanges(
      { changes: [{ change: "added", subject: "state", name: "EXTRA" }] } as never,
      impact({ live: 1 }),
    );
    expect(out.trimEnd().split("\n")[1]).toMatch(/added\s+state EXTRA\s+0$/);
  });

  it("no live stacks; a first push with a note; an unchanged machine", () => {
    expect(impactSummary(impact({}))).toBe("no live stacks run machine m");
    const a: Assessment = {
      name: "m",
      next,
      deployed: null,
      deployedNote: "no access",
      diff: null,
      impact: null,
    };
    expect(renderAssessment(a)).toBe(`machine m: not compared (no access) → ${next.version}\n`);
    const same: Assessment = {
      name: "m",
      next,
      deployed: { machine: next, where: "s3://b/m.yml" },
      diff: { changes: [] } as never,
      impact: null,
      impactNote: "no database",
    };
    expect(renderAssessment(same)).toBe(
      `machine m: unchanged (version ${next.version}, deployed in s3://b/m.yml)\n  live stacks: not checked (no database)\n`,
    );
  });

  it("a new version that changes nothing a stack sees says so", () => {
    const a: Assessment = {
      name: "m",
      next,
      deployed: { machine, where: "the database" },
      diff: { changes: [] } as never,
      impact: null,
    };
    expect(renderAssessment(a)).toBe(
      `machine m: ${machine.version} (deployed in the database) → ${next.version}\n  (no change to states, events, tasks or transitions)\n`,
    );
  });
});

describe("more of the same wording", () => {
  it("--json of a refusal carries the refused event's row", () => {
    const r: WaitResult = {
      result: "refused",
      stackId: "s-1",
      stack: null,
      failed: [],
      event: {
        eventKey: "e-1",
        event: "STOP",
        outcome: "refused",
        reason: "no such transition",
        from: "INIT",
      } as never,
      removal: null,
      waitingFor: null,
      waitedMs: 10,
      mode: "listen",
      queries: 1,
    };
    expect(resultJson(r).event).toEqual({
      key: "e-1",
      event: "STOP",
      outcome: "refused",
      reason: "no such transition",
    });
    expect(resultText(r)).toBe("s-1: STOP (event e-1) was refused in INIT: no such transition\n");
  });

  it("a task error row that records its retry time says it", () => {
    const lines = new ProgressLines().lines(
      history({
        event: "TASK_ERROR",
        task: "apply",
        token: "t",
        detail: { description: "Error: quota\nmore", retryAt: "2026-01-01T00:02:00.000Z" },
      }),
      null,
    );
    expect(lines.map((l) => l.text)).toEqual([
      "✗ apply failed: Error: quota; retry at 2026-01-01T00:02:00.000Z",
    ]);
  });

  it("a sensitive output shows by name only; others as text or JSON", () => {
    expect(outputText({ sensitive: true })).toBe("(sensitive)");
    expect(outputText({ value: "https://x", sensitive: false })).toBe("https://x");
    expect(outputText({ value: { a: 1 }, sensitive: false })).toBe('{"a":1}');
    const out = renderStackTime(
      stack({
        outputs: { apply: { password: { sensitive: true }, url: { value: "https://x", sensitive: false } } },
      }),
      undefined,
      { local: false },
    );
    expect(out).toMatch(/apply\s+password\s+\(sensitive\)/);
    expect(out).toMatch(/apply\s+url\s+https:\/\/x/);
  });

  it("a state's own TTL, without a warning", () => {
    const spec = `version: 1
events: [LAUNCH, DESTROY]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: PREVIEW }] } }
  PREVIEW:
    ttl: { age: 4h, event: DESTROY }
    on: { DESTROY: [{ action: advance, state: GONE }] }
  GONE: { terminal: true }
`;
    const m = parseSpec(spec, { name: "p" }).machine!;
    const s = stack({ machine: "p", version: m.version, state: "PREVIEW" });
    const status = ttlStatus(m, s);
    expect(status).toMatchObject({
      event: "DESTROY",
      dueAt: "2026-01-01T04:00:00.000Z",
      from: "state",
      fired: false,
    });
    expect(status?.warnAt).toBeUndefined();
    expect(ttlEventOf(m, "PREVIEW")).toBe("DESTROY");
  });
});
