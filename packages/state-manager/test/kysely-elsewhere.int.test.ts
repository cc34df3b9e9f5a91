import { type Database, getHistory, openDatabase } from "@stackseam/state-manager";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  completed,
  deliver,
  drainTasks,
  event,
  fileFixtures,
  manager,
  mustGetStack,
  sqsRecord,
  tokenOf,
} from "./helpers.js";

// openDatabase's Kysely lets the event path check out one pool client per event; a Kysely made
// elsewhere runs the same statements through Kysely itself. Both must do exactly the same.
describe("a State Manager over a Kysely instance it did not make", () => {
  const f = fileFixtures();

  /** A stack's life through both paths' managers; what is stored, without times and tokens. */
  async function life(id: string, db: Kysely<Database>) {
    const m = manager(f.database.url, f.aws.sqs, f.aws.taskQueueUrl, { db, concurrency: 2 });
    try {
      await deliver(m.sm, sqsRecord(event(id, "LAUNCH", { machine: "qa-env", metadata: { team: "a" } })));
      const launched = await mustGetStack(db, id);
      await deliver(
        m.sm,
        sqsRecord(completed(id, "apply-infra", tokenOf(launched, "apply-infra"))),
        sqsRecord(completed(id, "seed-data", tokenOf(launched, "seed-data"))),
        sqsRecord(event(id, "TOUCH", { metadata: { pr: 7 } })),
      );
      // A redelivered record (same message id) is a duplicate either way.
      const again = sqsRecord(event(id, "TOUCH", { metadata: { pr: 8 } }), `${id}-touch`);
      await deliver(m.sm, again);
      await deliver(m.sm, again);
      const stack = await mustGetStack(db, id);
      const history = (await getHistory(db, id)).map((h) => [h.event, h.outcome, h.from, h.to, h.duplicate]);
      return { state: stack.state, metadata: stack.metadata, tasks: stack.tasks.length, history };
    } finally {
      await m.sm.close();
    }
  }

  it("applies events exactly as over openDatabase", async () => {
    const ours = openDatabase(f.database.url, { max: 2 });
    const pool = new pg.Pool({ connectionString: f.database.url, max: 2 });
    // See notify.int.test.ts: the forced drop of the database may end a backend after pool.end().
    pool.on("error", () => {});
    const theirs = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      const viaPool = await life("path-pool", ours);
      const viaKysely = await life("path-kysely", theirs);
      expect(viaKysely).toEqual(viaPool);
      expect(viaPool.state).toBe("RUN");
      expect(viaPool.metadata).toEqual({ team: "a", pr: 8 });
      expect(viaPool.history.at(-1)).toEqual(["TOUCH", "ignored", "RUN", "RUN", true]);
      expect((await drainTasks(f.aws.sqs, f.aws.taskQueueUrl)).length).toBe(4);
    } finally {
      await Promise.all([ours.destroy(), theirs.destroy()]);
    }
  });
});
