import { createLogger } from "@stackseam/state-manager";
import { describe, expect, it } from "vitest";
import { event, fileFixtures, manager, spyWrites, sqsRecord } from "./helpers.js";

const launch = (id: string, messageId: string) =>
  sqsRecord(event(id, "LAUNCH", { machine: "qa-env" }), messageId);

describe("a batch's log lines", () => {
  const f = fileFixtures();

  /** Processes records with the State Manager's own logger; every write it made, in order. */
  async function written(concurrency: number, records: ReturnType<typeof sqsRecord>[]) {
    const m = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl, { logger: createLogger(), concurrency });
    const spy = spyWrites();
    try {
      const res = await m.sm.processRecords(records);
      expect(res.batchItemFailures).toEqual([]);
    } finally {
      spy.restore();
      await m.close();
    }
    return spy.writes;
  }

  it("go to stdout in one write when the batch ends, one JSON line per event", async () => {
    const writes = await written(2, [launch("log-a", "m-a"), launch("log-b", "m-b"), launch("log-c", "m-c")]);
    expect(writes.map((w) => w.to)).toEqual(["stdout"]);
    const lines = (writes[0]?.text ?? "").split("\n");
    expect(lines.pop()).toBe("");
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.messageId).sort()).toEqual(["m-a", "m-b", "m-c"]);
    for (const r of records) {
      expect(r).toMatchObject({
        level: "INFO",
        message: "event applied",
        service: "stackseam-state-manager",
      });
    }
  });

  it("a refusal is written at once, after the lines held before it", async () => {
    // One at a time, so the applied event's line is held when the refusal comes.
    const writes = await written(1, [
      launch("log-d", "m-d"),
      sqsRecord("{not json", "m-bad"),
      launch("log-e", "m-e"),
    ]);
    const seen = writes.flatMap((w) =>
      w.text
        .split("\n")
        .filter(Boolean)
        .map((l) => `${w.to} ${(JSON.parse(l) as { messageId: string }).messageId}`),
    );
    expect(seen).toEqual(["stdout m-d", "stderr m-bad", "stdout m-e"]);
  });
});
