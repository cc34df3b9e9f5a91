import { describe, expect, it } from "vitest";
import { batchResponse, FullBatchFailureError, runBatch, unlessAllFailed } from "../src/batch.js";

/** A record as the batch sees it: an id and the stack it belongs to. */
interface Rec {
  id: string;
  stack: string;
}
const rec = (id: string, stack: string): Rec => ({ id, stack });

/** A fake event processor: records the order it saw items in, fails the ids it is told to. */
function fakeProcessor(failing: ReadonlySet<string> = new Set(), delayMs = 0) {
  const seen: string[] = [];
  let running = 0;
  let maxRunning = 0;
  return {
    seen,
    maxRunning: () => maxRunning,
    async process(item: Rec) {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      try {
        await new Promise((r) => setTimeout(r, delayMs));
        seen.push(item.id);
        if (failing.has(item.id)) throw new Error(`boom ${item.id}`);
      } finally {
        running -= 1;
      }
    },
  };
}

const plan = (p: ReturnType<typeof fakeProcessor>, concurrency = 2) => ({
  idOf: (r: Rec) => r.id,
  groupOf: (r: Rec) => r.stack,
  concurrency,
  process: (r: Rec) => p.process(r),
});

describe("a batch of records", () => {
  it("runs one stack's records in arrival order", async () => {
    const items = [rec("a1", "A"), rec("b1", "B"), rec("a2", "A"), rec("a3", "A"), rec("b2", "B")];
    const p = fakeProcessor(new Set(), 1);
    const outcome = await runBatch(items, plan(p));
    expect(outcome.failed.size).toBe(0);
    expect(p.seen.filter((id) => id.startsWith("a"))).toEqual(["a1", "a2", "a3"]);
    expect(p.seen.filter((id) => id.startsWith("b"))).toEqual(["b1", "b2"]);
  });

  it("runs different stacks at once, never more than the concurrency", async () => {
    const items = ["A", "B", "C", "D", "E"].map((s) => rec(`${s}1`, s));
    const p = fakeProcessor(new Set(), 5);
    await runBatch(items, plan(p, 3));
    expect(p.maxRunning()).toBe(3);
  });

  it("returns a failed record with the later records of its stack, and only those", async () => {
    const items = [rec("a1", "A"), rec("a2", "A"), rec("b1", "B"), rec("a3", "A"), rec("b2", "B")];
    const p = fakeProcessor(new Set(["a2"]));
    const told: [string, number][] = [];
    const outcome = await runBatch(items, {
      ...plan(p),
      onFailure: (item, _err, alsoReturned) => told.push([item.id, alsoReturned]),
    });
    expect([...outcome.failed].sort()).toEqual(["a2", "a3"]);
    expect(p.seen).not.toContain("a3");
    expect(told).toEqual([["a2", 1]]);
    expect(batchResponse(items, (r) => r.id, outcome.failed)).toEqual({
      batchItemFailures: [{ itemIdentifier: "a2" }, { itemIdentifier: "a3" }],
    });
  });

  it("throws when every record failed, and returns the partial response otherwise", async () => {
    const items = [rec("a1", "A"), rec("b1", "B")];
    const all = await runBatch(items, plan(fakeProcessor(new Set(["a1", "b1"]))));
    const response = batchResponse(items, (r) => r.id, all.failed);
    expect(() => unlessAllFailed(response, items.length, all.errors)).toThrow(FullBatchFailureError);
    try {
      unlessAllFailed(response, items.length, all.errors);
    } catch (err) {
      expect((err as FullBatchFailureError).errors).toHaveLength(2);
      expect((err as Error).cause).toBeInstanceOf(Error);
    }

    const some = await runBatch(items, plan(fakeProcessor(new Set(["a1"]))));
    const partial = batchResponse(items, (r) => r.id, some.failed);
    expect(unlessAllFailed(partial, items.length, some.errors)).toEqual({
      batchItemFailures: [{ itemIdentifier: "a1" }],
    });
    // An empty batch is not a failure.
    expect(unlessAllFailed({ batchItemFailures: [] }, 0, [])).toEqual({ batchItemFailures: [] });
  });
});
