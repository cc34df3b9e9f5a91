import { resolveConnection } from "../connection.js";
import { eventPublisher } from "../publish.js";
import { parseCommandArgs } from "../registry.js";
import { currentSpecs } from "../ui-specs.js";

const help = `Usage: stackseam ui [--port N] [--host H] [--read-only] [--database-url URL] [--queue-url URL]

Serves the dashboard: every stack, its machine and its history, live, in the browser.

Options:
  --port N            port (default 4680; 0: any free port)
  --host H            address to bind (default 127.0.0.1). Any other address needs a token
                      (STACKSEAM_UI_TOKEN or --token): without one the dashboard refuses to start
  --token T           the access token (prefer STACKSEAM_UI_TOKEN: arguments show in \`ps\`)
  --read-only         no actions (retry, send, destroy); a read-only database role is enough
  --database-url URL  postgres://… (default: DATABASE_URL, else a running \`stackseam dev\`)
  --queue-url URL     where actions send events (default: SQS_EVENT_QUEUE_URL, else the running dev's)
  --specs DIR         also show the machines in DIR before any stack used them
  -h, --help          show this help

Exit codes: 0 stopped (Ctrl-C), 1 could not start, 2 usage error.
`;

interface UiValues {
  port?: string;
  host?: string;
  token?: string;
  "read-only"?: boolean;
  "database-url"?: string;
  "queue-url"?: string;
  specs?: string;
  help?: boolean;
}

/** Where the data comes from, for the page header: never a password. */
function sourceLabel(databaseUrl: string, fromDev: boolean): string {
  try {
    const u = new URL(databaseUrl);
    return `${fromDev ? "dev · " : ""}${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return fromDev ? "dev" : "database";
  }
}

/** `stackseam ui`: serves until SIGINT/SIGTERM. */
export async function run(args: string[]): Promise<number> {
  let values: UiValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs<UiValues>("ui", args));
  } catch (err) {
    process.stderr.write(`stackseam ui: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (positionals.length > 0) {
    process.stderr.write(`stackseam ui: unexpected argument "${positionals[0]}"\n\n${help}`);
    return 2;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    process.stderr.write(
      `stackseam ui: --port must be a port number (0 for any free port), not "${values.port}"\n`,
    );
    return 2;
  }
  const conn = resolveConnection({
    ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
    ...(values["queue-url"] ? { queueUrl: values["queue-url"] } : {}),
  });
  if (!conn.databaseUrl) {
    process.stderr.write(
      "stackseam ui: no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`\n",
    );
    return 2;
  }
  const readOnly = values["read-only"] === true;
  const publisher = readOnly ? null : eventPublisher(conn, "stackseam-ui");
  if (!readOnly && !publisher)
    process.stderr.write(
      "stackseam ui: no event queue (SQS_EVENT_QUEUE_URL, --queue-url or dev): serving read-only\n",
    );
  const token = values.token ?? process.env.STACKSEAM_UI_TOKEN ?? null;
  const specs = currentSpecs(values.specs, conn.dev);

  // Loaded only here (and by dev): the rest of the CLI never pays for the dashboard.
  const ui = await import("@stackseam/ui");
  let dashboard: Awaited<ReturnType<typeof ui.startDashboard>>;
  try {
    dashboard = await ui.startDashboard({
      databaseUrl: conn.databaseUrl,
      host: values.host ?? "127.0.0.1",
      ...(port !== undefined ? { port } : {}),
      token: token && token !== "" ? token : null,
      readOnly,
      ...(publisher ? { publish: (m) => publisher.publish(m) } : {}),
      ...(specs ? { specs } : {}),
      source: sourceLabel(
        conn.databaseUrl,
        conn.dev !== undefined && conn.databaseUrl === conn.dev.databaseUrl,
      ),
      onError: (err) => process.stderr.write(`stackseam ui: ${(err as Error).message}\n`),
    });
  } catch (err) {
    publisher?.close();
    process.stderr.write(`stackseam ui: ${(err as Error).message}\n`);
    return 1;
  }
  const link = token ? `${dashboard.url}?token=${encodeURIComponent(token)}` : dashboard.url;
  process.stdout.write(`dashboard on ${link}${dashboard.readOnly ? " (read-only)" : ""}\n`);

  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await dashboard.close();
  publisher?.close();
  return 0;
}
