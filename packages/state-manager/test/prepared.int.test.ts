import { createPool, databaseFromPool, getStack } from "@stackseam/state-manager";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { preparesStatements } from "../src/database.js";
import { readStack } from "../src/stack-rows.js";

describe("prepared statements on the event path", () => {
  let database: TestDatabase;
  let admin: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query("INSERT INTO stacks (id, machine, state) VALUES ('p-1', 'qa-env', 'RUN')");
  });
  afterAll(async () => {
    await admin?.end();
    await database?.drop();
  });

  it("are off through an RDS Proxy endpoint unless asked for, and on elsewhere", () => {
    const proxy =
      "postgres://app:pw@stackseam-database.proxy-c0ffee123abc.eu-west-1.rds.amazonaws.com:5432/stackseam";
    const instance = "postgres://app:pw@stackseam.c0ffee123abc.eu-west-1.rds.amazonaws.com:5432/stackseam";
    expect(preparesStatements(proxy)).toBe(false);
    expect(preparesStatements(proxy, true)).toBe(true);
    expect(preparesStatements(instance)).toBe(true);
    expect(preparesStatements(instance, false)).toBe(false);
    expect(preparesStatements("postgres://postgres@127.0.0.1:5432/x")).toBe(true);
  });

  it("are prepared once per connection, and prepared afresh after a migration changed what one returns", async () => {
    const pool = createPool(database.url, { max: 1, applicationName: "stackseam-prepared-test" });
    const db = databaseFromPool(pool);
    try {
      expect((await readStack(db, "p-1"))?.row.state).toBe("RUN");
      expect((await readStack(db, "p-1"))?.version).toMatch(/^\d+$/);
      // One connection (pool of 1): the statement was parsed on it once, under one name.
      const { rows } = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements`.execute(db);
      expect(rows.map((r) => r.name).filter((n) => n.startsWith("stackseam_"))).toHaveLength(1);

      // A column the statement returns changes type: its prepared plan no longer fits.
      await admin.query("ALTER TABLE stacks ALTER COLUMN entry TYPE bigint");
      await expect(readStack(db, "p-1")).rejects.toMatchObject({ code: "0A000" });
      // The event is retried (SQS redelivers it): by then the statement has a new name.
      expect((await readStack(db, "p-1"))?.row.state).toBe("RUN");
      expect((await getStack(db, "p-1"))?.state).toBe("RUN");
    } finally {
      await admin.query("ALTER TABLE stacks ALTER COLUMN entry TYPE integer");
      await db.destroy();
    }
  });
});
