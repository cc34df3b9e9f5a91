import { fileURLToPath } from "node:url";
import { localMachineSource } from "@stackseam/state-manager";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  completed,
  deliver,
  event,
  fileFixtures,
  manager,
  mustGetStack,
  sqsRecord,
  tokenOf,
} from "./helpers.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/specs/", import.meta.url));
const DAY = 86_400_000;

interface TimerRow {
  name: string;
  locked: boolean;
  due_at: Date;
  claimed_until: Date | null;
}

// The timers table follows the stack (examples/specs/qa-env.yml: provision-env's 2-minute
// heartbeat, which comes before its 10-minute timeout; 3 idle days, a warning a day before). A
// timer whose due time an event leaves as it was keeps its row as it is (and a tick's claim on
// it); one that is missing is put back.
describe("timer rows", () => {
  const f = fileFixtures();
  let m: ReturnType<typeof manager>;

  beforeAll(() => {
    m = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl, {
      machines: localMachineSource({ dir: EXAMPLES }),
    });
  });
  afterAll(async () => {
    await m?.close();
  });

  const rows = async (id: string) =>
    (
      await sql<TimerRow>`SELECT name, due_at, claimed_until, xmax <> '0' AS locked FROM timers WHERE stack_id = ${id} ORDER BY name`.execute(
        m.db,
      )
    ).rows;
  const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

  it("a report keeps the TTL rows and their claim, puts back a missing one, and drops the timeout", async () => {
    await deliver(m.sm, sqsRecord(event("kept-1", "LAUNCH", { machine: "qa-env" })));
    const launched = await mustGetStack(m.db, "kept-1");
    const idleFrom = launched.activeAt ?? launched.createdAt;
    expect((await rows("kept-1")).map((r) => [r.name, r.due_at.toISOString()])).toEqual([
      ["timeout:provision-env", plus(launched.tasks[0]?.dispatchedAt ?? "", 2 * 60_000)],
      ["ttl", plus(idleFrom, 3 * DAY)],
      ["ttl-warning", plus(idleFrom, 2 * DAY)],
    ]);
    // A tick has claimed the TTL timer; the warning's row is lost.
    const claim = new Date(Date.now() + 60_000);
    await sql`UPDATE timers SET claimed_until = ${claim} WHERE stack_id = 'kept-1' AND name = 'ttl'`.execute(
      m.db,
    );
    await sql`DELETE FROM timers WHERE stack_id = 'kept-1' AND name = 'ttl-warning'`.execute(m.db);

    await deliver(m.sm, sqsRecord(completed("kept-1", "provision-env", tokenOf(launched, "provision-env"))));
    expect((await mustGetStack(m.db, "kept-1")).state).toBe("RUN");
    const after = await rows("kept-1");
    expect(
      after.map((r) => [r.name, r.due_at.toISOString(), r.claimed_until?.toISOString() ?? null]),
    ).toEqual([
      ["ttl", plus(idleFrom, 3 * DAY), claim.toISOString()],
      ["ttl-warning", plus(idleFrom, 2 * DAY), null],
    ]);
    // Not even locked by the report: a lock is a write of the row and a WAL record.
    expect(after.find((r) => r.name === "ttl")?.locked).toBe(false);
  });

  it("an event from outside moves both TTL rows, a moved row loses its claim, and one changed by hand is set right", async () => {
    const claim = new Date(Date.now() + 60_000);
    await sql`UPDATE timers SET claimed_until = ${claim} WHERE stack_id = 'kept-1'`.execute(m.db);
    await sql`UPDATE timers SET due_at = now() WHERE stack_id = 'kept-1' AND name = 'ttl-warning'`.execute(
      m.db,
    );
    await deliver(m.sm, sqsRecord(event("kept-1", "TOUCH")));
    const touched = await mustGetStack(m.db, "kept-1");
    const idleFrom = touched.activeAt ?? "";
    expect((await rows("kept-1")).map((r) => [r.name, r.due_at.toISOString(), r.claimed_until])).toEqual([
      ["ttl", plus(idleFrom, 3 * DAY), null],
      ["ttl-warning", plus(idleFrom, 2 * DAY), null],
    ]);
  });
});
