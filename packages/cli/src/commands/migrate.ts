import { runMigrations } from "@stackseam/state-manager";
import { resolveConnection } from "../connection.js";
import { parseCommandArgs } from "../registry.js";

const help = `Usage: stackseam migrate [--database-url URL] [--dir DIR]

Applies the pending numbered SQL files of migrations/ to the Stackseam database, each in its own
transaction, recorded in schema_migrations. Safe to run twice or from two places at once (an
advisory lock serialises migrators). The Lambda never migrates by itself.

Options:
  --database-url URL  postgres://… (default: DATABASE_URL, else a running \`stackseam dev\`)
  --dir DIR           the migrations folder (default: STACKSEAM_MIGRATIONS_DIR, else the bundled migrations/)
  -h, --help          show this help

Exit codes: 0 up to date, 1 a migration failed, 2 usage error.
`;

/** `stackseam migrate`. */
export async function run(args: string[]): Promise<number> {
  let values: { "database-url"?: string; dir?: string; help?: boolean };
  try {
    let positionals: string[];
    ({ values, positionals } = parseCommandArgs<typeof values>("migrate", args));
    if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  } catch (err) {
    process.stderr.write(`stackseam migrate: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const conn = resolveConnection(values["database-url"] ? { databaseUrl: values["database-url"] } : {});
  if (!conn.databaseUrl) {
    process.stderr.write(
      "stackseam migrate: no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`\n",
    );
    return 2;
  }
  try {
    await runMigrations(conn.databaseUrl, {
      ...(values.dir ? { dir: values.dir } : {}),
      log: (msg) => process.stdout.write(`${msg}\n`),
    });
    return 0;
  } catch (err) {
    process.stderr.write(`stackseam migrate: ${(err as Error).message}\n`);
    return 1;
  }
}
