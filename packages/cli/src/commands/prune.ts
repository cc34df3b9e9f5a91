import { formatDuration, parseDuration } from "@stackseam/core";
import { DEFAULT_PRUNE_BATCH, openDatabase, type PruneOptions, prune } from "@stackseam/state-manager";
import { resolveConnection } from "../connection.js";
import { parseCommandArgs } from "../registry.js";

const help = `Usage: stackseam prune [--history-older-than 90d] [--outbox-older-than 30d]
                      [--notifications-older-than 30d] [--batch-size N] [--pause 50ms]
                      [--json] [--database-url URL]

Deletes what is older than a retention, so the database stops growing: history rows, task
messages already sent, and notifications sent or given up. Task messages not yet sent and
notifications still pending are never deleted. Rows go in small batches, each its own short
transaction that locks only the old rows it deletes: safe to run while events flow (a nightly
schedule is typical). Give at least one retention.

History is also the idempotency record: an event delivered again after its history row was pruned
is applied again. Keep history longer than any event can stay in a queue (SQS keeps a message at
most 14 days).

Options:
  --history-older-than D        history rows created more than D ago (e.g. 90d)
  --outbox-older-than D         task messages sent more than D ago
  --notifications-older-than D  notifications sent or given up more than D ago
  --batch-size N                rows looked at per statement (default ${DEFAULT_PRUNE_BATCH})
  --pause D                     wait between batches, leaving the database to other work (default 0s)
  --json                        print what was deleted as JSON
  --database-url URL            postgres://… (default: DATABASE_URL, else a running \`stackseam dev\`)
  -h, --help                    show this help

Durations: 90s, 20m, 2h, 3d, 1h30m.

Exit codes: 0 done, 1 database error, 2 usage error.
`;

interface Values {
  "history-older-than"?: string;
  "outbox-older-than"?: string;
  "notifications-older-than"?: string;
  "batch-size"?: string;
  pause?: string;
  json?: boolean;
  "database-url"?: string;
  help?: boolean;
}

/** The options as prune takes them, or why they are wrong. */
function pruneOptions(values: Values): PruneOptions | string {
  const opts: PruneOptions = {};
  const duration = (flag: keyof Values): number | undefined | string => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    const ms = typeof raw === "string" ? parseDuration(raw) : undefined;
    return ms === undefined ? `--${flag}: not a duration: "${raw}" (e.g. 90d, 12h, 1h30m)` : ms;
  };
  for (const [flag, key] of [
    ["history-older-than", "historyOlderThanMs"],
    ["outbox-older-than", "outboxOlderThanMs"],
    ["notifications-older-than", "notificationsOlderThanMs"],
  ] as const) {
    const ms = duration(flag);
    if (typeof ms === "string") return ms;
    if (ms !== undefined) opts[key] = ms;
  }
  if (
    opts.historyOlderThanMs === undefined &&
    opts.outboxOlderThanMs === undefined &&
    opts.notificationsOlderThanMs === undefined
  )
    return "give at least one of --history-older-than, --outbox-older-than, --notifications-older-than";
  const pause = duration("pause");
  if (typeof pause === "string") return pause;
  if (pause !== undefined) opts.pauseMs = pause;
  if (values["batch-size"] !== undefined) {
    const n = Number(values["batch-size"]);
    if (!Number.isInteger(n) || n < 1 || n > 100_000)
      return `--batch-size must be a whole number from 1 to 100000, got "${values["batch-size"]}"`;
    opts.batchSize = n;
  }
  return opts;
}

/** `stackseam prune`. */
export async function run(args: string[]): Promise<number> {
  let values: Values;
  try {
    let positionals: string[];
    ({ values, positionals } = parseCommandArgs<Values>("prune", args));
    if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  } catch (err) {
    process.stderr.write(`stackseam prune: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const opts = pruneOptions(values);
  if (typeof opts === "string") {
    process.stderr.write(`stackseam prune: ${opts}\n\n${help}`);
    return 2;
  }
  const conn = resolveConnection(values["database-url"] ? { databaseUrl: values["database-url"] } : {});
  if (!conn.databaseUrl) {
    process.stderr.write(
      "stackseam prune: no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`\n",
    );
    return 2;
  }
  const db = openDatabase(conn.databaseUrl, { max: 1, applicationName: "stackseam-prune" });
  const now = new Date();
  try {
    const result = await prune(db, { ...opts, now });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ now: now.toISOString(), ...result }, null, 2)}\n`);
      return 0;
    }
    const line = (what: string, n: number, ms: number | undefined) =>
      ms === undefined
        ? ""
        : `${what}: ${n.toLocaleString("en-US")} deleted (older than ${formatDuration(ms)}, before ${new Date(now.getTime() - ms).toISOString()})\n`;
    process.stdout.write(
      line("history rows", result.deleted.history, opts.historyOlderThanMs) +
        line("sent task messages", result.deleted.outbox, opts.outboxOlderThanMs) +
        line("finished notifications", result.deleted.notifications, opts.notificationsOlderThanMs) +
        `${result.batches} batches in ${(result.ms / 1000).toFixed(1)} s, the longest ${result.longestBatchMs.toFixed(0)} ms\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`stackseam prune: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}
