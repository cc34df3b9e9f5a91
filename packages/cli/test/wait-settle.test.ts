import type { Stack, StackTask } from "@stackseam/core";
import type { HistoryEntry } from "@stackseam/state-manager";
import { describe, expect, it } from "vitest";
import type { EventRow } from "../src/watch/reads.js";
import { judge } from "../src/watch/settle.js";

const task = (name: string, status: StackTask["status"], extra: Partial<StackTask> = {}): StackTask => ({
  name,
  status,
  token: `${name}-t`,
  attempt: 1,
  ...extra,
});

const stack = (state: string, tasks: StackTask[] = [], extra: Partial<Stack> = {}): Stack => ({
  id: "s1",
  machine: "m",
  version: "v1",
  state,
  metadata: {},
  tasks,
  entry: 1,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  ...extra,
});

const row = (key: string, outcome: EventRow["outcome"], extra: Partial<EventRow> = {}): EventRow => ({
  id: 1,
  eventKey: key,
  event: "LAUNCH",
  outcome,
  reason: null,
  from: null,
  detail: null,
  ...extra,
});

const removal: HistoryEntry = {
  id: 9,
  stackId: "s1",
  machine: "m",
  event: "TASK_COMPLETED",
  eventKey: "k9",
  outcome: "applied",
  reason: null,
  from: "TEARDOWN",
  to: "TEARDOWN",
  path: [],
  task: "destroy",
  token: "t",
  duplicate: false,
  detail: { removed: true },
  at: "2026-01-01T00:00:00.000Z",
};

describe("when a wait is over", () => {
  it("is settled when no task is unfinished, and in the asked state", () => {
    expect(judge({ stack: stack("RUN", [task("a", "SATISFIED")]), lastApplied: null }).kind).toBe("settled");
    expect(judge({ stack: stack("RUN"), lastApplied: null, want: "RUN" }).kind).toBe("settled");
  });

  it("keeps waiting while a task is PENDING, or failed with a retry scheduled", () => {
    expect(judge({ stack: stack("PROVISION", [task("a", "PENDING")]), lastApplied: null })).toEqual({
      kind: "waiting",
      why: "in PROVISION, tasks unfinished: a (attempt 1)",
    });
    const retrying = stack("PROVISION", [
      task("a", "ERROR", { attempt: 2, retryAt: "2026-01-01T00:05:00.000Z", description: "Error: x" }),
    ]);
    expect(judge({ stack: retrying, lastApplied: null })).toEqual({
      kind: "waiting",
      why: "in PROVISION, tasks unfinished: a (attempt 2 failed; retry at 2026-01-01T00:05:00.000Z)",
    });
  });

  it("fails as soon as a task failed with no retry left, even while another still runs", () => {
    const s = stack("PROVISION", [task("a", "ERROR", { description: "Error: boom" }), task("b", "PENDING")]);
    const v = judge({ stack: s, lastApplied: null });
    expect(v.kind).toBe("failed");
    expect(v.kind === "failed" && v.tasks.map((t) => t.name)).toEqual(["a"]);
  });

  it("keeps waiting while settled in another state than asked", () => {
    expect(judge({ stack: stack("FROZEN"), lastApplied: null, want: "RUN" })).toEqual({
      kind: "waiting",
      why: "settled in FROZEN, waiting for RUN",
    });
  });

  it("reports a removal, which is what --state removed waits for", () => {
    expect(judge({ stack: null, lastApplied: removal })).toEqual({ kind: "removed", removal });
    expect(judge({ stack: null, lastApplied: removal, want: "removed" })).toEqual({
      kind: "settled",
      stack: null,
    });
  });

  it("waits for a stack that does not exist yet (no removal in its history)", () => {
    expect(judge({ stack: null, lastApplied: null }).kind).toBe("waiting");
    expect(judge({ stack: null, lastApplied: { ...removal, detail: {} } }).kind).toBe("waiting");
  });

  it("follows an event: waits until it is processed, refused ends the wait", () => {
    const settled = stack("RUN");
    expect(judge({ stack: settled, lastApplied: null, followed: { key: "k1", rows: [] } })).toEqual({
      kind: "waiting",
      why: "event k1 has not been processed yet",
    });
    const refusal = row("k1", "refused", { reason: "state RUN does not handle THAW" });
    expect(judge({ stack: settled, lastApplied: null, followed: { key: "k1", rows: [refusal] } })).toEqual({
      kind: "refused",
      row: refusal,
    });
    expect(
      judge({ stack: settled, lastApplied: null, followed: { key: "k1", rows: [row("k1", "ignored")] } })
        .kind,
    ).toBe("settled");
  });

  it("a refusal of the event's own row wins over a removal or a failure", () => {
    const refusal = row("k1", "refused");
    expect(judge({ stack: null, lastApplied: removal, followed: { key: "k1", rows: [refusal] } }).kind).toBe(
      "refused",
    );
  });

  it("a deferred event is waited for until applied, and its later refusal (a derived key) ends the wait", () => {
    const deferred = stack("PROVISION", [], {
      deferred: [{ name: "UPDATE", key: "k1", at: "2026-01-01T00:00:00.000Z" }],
    });
    const own = row("k1", "applied", { event: "UPDATE" });
    expect(judge({ stack: deferred, lastApplied: null, followed: { key: "k1", rows: [own] } }).kind).toBe(
      "waiting",
    );
    const later = row("k1#deferred", "refused", { id: 2, event: "UPDATE" });
    expect(
      judge({ stack: stack("RUN"), lastApplied: null, followed: { key: "k1", rows: [own, later] } }),
    ).toEqual({ kind: "refused", row: later });
    // An automatic upgrade's row is incidental, whatever it says.
    const upgrade = row("k1#upgrade", "refused", { id: 3, event: "UPGRADE_MACHINE" });
    expect(
      judge({ stack: stack("RUN"), lastApplied: null, followed: { key: "k1", rows: [own, upgrade] } }).kind,
    ).toBe("settled");
  });
});
