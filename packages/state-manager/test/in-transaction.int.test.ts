import { createPool, databaseFromPool } from "@stackseam/state-manager";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { inTransaction, rowsOf } from "../src/database.js";

// The outbox flush's transaction: on a checked-out pool client when the pool is ours, through
// Kysely otherwise. Both commit what the function did, or nothing when it throws.
describe("inTransaction", () => {
  let database: TestDatabase;
  let admin: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await database?.drop();
  });

  // See notify.int.test.ts: the forced drop of the database may end a backend after pool.end().
  const quietPool = (url: string) => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on("error", () => {});
    return pool;
  };
  const count = async (id: string) =>
    (await admin.query("SELECT count(*)::int AS n FROM stacks WHERE id = $1", [id])).rows[0].n as number;
  const insert = "INSERT INTO stacks (id, machine, state) VALUES ($1, 'qa-env', 'RUN')";

  for (const [kind, open] of [
    ["our pool", () => databaseFromPool(createPool(database.url, { max: 1 }))],
    [
      "a Kysely made elsewhere",
      () =>
        new Kysely({
          dialect: new PostgresDialect({ pool: quietPool(database.url) }),
        }),
    ],
  ] as const) {
    it(`commits, or rolls back and rethrows (${kind})`, async () => {
      const db = open();
      try {
        const id = `tx-${kind.length}`;
        const done = await inTransaction(db, async (on) => {
          await rowsOf(on, insert, [`${id}-a`]);
          return "done";
        });
        expect(done).toBe("done");
        expect(await count(`${id}-a`)).toBe(1);
        const boom = new Error("boom");
        await expect(
          inTransaction(db, async (on) => {
            await rowsOf(on, insert, [`${id}-b`]);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await count(`${id}-b`)).toBe(0);
        // A statement that fails inside leaves the connection usable for the next transaction.
        await expect(inTransaction(db, (on) => rowsOf(on, "SELECT 1/0", []))).rejects.toThrow(
          /division by zero/,
        );
        await inTransaction(db, (on) => rowsOf(on, insert, [`${id}-c`]));
        expect(await count(`${id}-c`)).toBe(1);
      } finally {
        await db.destroy();
      }
    });
  }

  it("does not reuse a connection that died inside it: the next transaction gets a new one", async () => {
    const pool = createPool(database.url, { max: 1 });
    const db = databaseFromPool(pool);
    try {
      const before = (await rowsOf<{ pid: number }>(db, "SELECT pg_backend_pid() AS pid", []))[0]?.pid;
      await expect(
        inTransaction(db, (on) => rowsOf(on, "SELECT pg_terminate_backend(pg_backend_pid())", [])),
      ).rejects.toThrow();
      const after = await inTransaction(db, (on) =>
        rowsOf<{ pid: number }>(on, "SELECT pg_backend_pid() AS pid", []),
      );
      expect(after[0]?.pid).toBeDefined();
      expect(after[0]?.pid).not.toBe(before);
    } finally {
      await db.destroy();
    }
  });
});
