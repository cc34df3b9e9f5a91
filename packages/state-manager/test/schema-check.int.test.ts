import { readdir } from "node:fs/promises";
import {
  ConfigError,
  checkSchema,
  createLambdaHandler,
  defaultMigrationsDir,
  openDatabase,
  REQUIRED_MIGRATION,
  runMigrations,
} from "@stackseam/state-manager";
import type { Context, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";

describe("a release refuses a database without its migrations", () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("needs the newest migration of the repository (the constant follows the folder)", async () => {
    const numbers = (await readdir(defaultMigrationsDir()))
      .map((f) => /^(\d+)_.*\.sql$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    expect(REQUIRED_MIGRATION).toBe(Math.max(...numbers));
  });

  it("fails the first event with a ConfigError naming `stackseam migrate`, and works once migrated", async () => {
    const db = openDatabase(database.url, { max: 1 });
    try {
      await expect(checkSchema(db)).rejects.toThrow(ConfigError);
      await expect(checkSchema(db)).rejects.toThrow(
        /run "stackseam migrate" against it before deploying this release/,
      );

      const env = {
        DATABASE_URL: database.url,
        SQS_TASK_QUEUE_URL: "http://127.0.0.1:1/000000000000/tasks",
        MACHINE_LOCATOR: "LOCAL_FS",
        MACHINE_SPEC_DIR: "/nonexistent",
        AWS_REGION: "us-east-1",
      };
      const handler = createLambdaHandler(() => env);
      const event: SQSEvent = { Records: [] };
      await expect(handler(event, {} as Context)).rejects.toThrow(/needs 0*\d+: run "stackseam migrate"/);

      await runMigrations(database.url);
      await expect(checkSchema(db)).resolves.toBeUndefined();
    } finally {
      await db.destroy();
    }
  });
});
