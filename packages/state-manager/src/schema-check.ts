// Repository layer: is the database's schema the one this release needs?
import { type Kysely, sql } from "kysely";
import { ConfigError } from "./errors.js";
import type { Database } from "./schema.js";

/**
 * The newest migration this release's code relies on. A test keeps it equal to the highest number
 * in migrations/; a database that has not applied it is refused before any event is touched.
 */
export const REQUIRED_MIGRATION = 11;

/** Throws a ConfigError when the database lacks migrations this release needs (one query). */
export async function checkSchema(db: Kysely<Database>): Promise<void> {
  let applied: number;
  try {
    const { rows } = await sql<{
      newest: number | null;
    }>`SELECT max(version) AS newest FROM schema_migrations`.execute(db);
    applied = rows[0]?.newest ?? 0;
  } catch (cause) {
    if ((cause as { code?: string }).code !== "42P01") throw cause;
    applied = 0;
  }
  if (applied < REQUIRED_MIGRATION) {
    throw new ConfigError([
      `the database has migrations up to ${applied === 0 ? "none" : String(applied).padStart(3, "0")} applied, but this release needs ${String(REQUIRED_MIGRATION).padStart(3, "0")}: run "stackseam migrate" against it before deploying this release (docs/deployment.md, migrations and the order of a deploy)`,
    ]);
  }
}
