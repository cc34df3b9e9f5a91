import type { Machine } from "@stackseam/core";
import type { ScheduleListing, TimerListing } from "@stackseam/state-manager";
import { resolveConnection } from "../connection.js";
import { parseCommandArgs } from "../registry.js";
import { cell, indent, table } from "../table.js";
import { formatTime } from "../time.js";
import { relativeTime, timerEffect, ttlEventOf } from "../timer-text.js";

const help = `Usage: stackseam timers [--due] [--limit N] [--local] [--json] [--database-url URL]

Lists what the tick will fire, soonest first: the timers of every stack (task timeouts and
retries, TTLs and their warnings) and the next occurrence of each machine schedule. A timer whose
time has passed fires at the next tick (every minute when deployed, every second in dev).

Options:
  --due               only what is due now (fires at the next tick)
  --limit N           at most N timers (default 100); the soonest ones
  --local             print times in local time with its offset (default: ISO 8601 in UTC)
  --json              print {"now", "timers", "schedules"} as JSON
  --database-url URL  postgres://… (default: DATABASE_URL, else a running \`stackseam dev\`)
  -h, --help          show this help

Exit codes: 0 ok, 1 database error (or a database without the timers: run stackseam migrate),
2 usage error.
`;

interface Values {
  due?: boolean;
  limit?: string;
  local?: boolean;
  json?: boolean;
  "database-url"?: string;
  help?: boolean;
}

/** A timer as listed: the row, and what it does when it fires. */
export interface ListedTimer extends TimerListing {
  fires: string;
  /** The event the stack's TTL sends (ttl and ttl-warning timers, when its machine version is stored). */
  ttlEvent?: string;
}

/** The timers table and the schedules table, as `stackseam timers` prints them. */
export function renderTimers(
  timers: readonly ListedTimer[],
  schedules: readonly ScheduleListing[],
  opts: { now: Date; local: boolean; due: boolean },
): string {
  const when = (iso: string) => formatTime(iso, { local: opts.local });
  const firing = (t: { claimedUntil: string | null }) =>
    t.claimedUntil !== null && Date.parse(t.claimedUntil) > opts.now.getTime() ? " (being fired)" : "";
  let out =
    timers.length === 0
      ? `${opts.due ? "no timers due" : "no timers"}\n`
      : table(
          ["stack", "timer", "due", "in", "state", "fires"],
          timers.map((t) => [
            cell(t.stackId, 60),
            t.name,
            when(t.dueAt),
            `${relativeTime(t.dueAt, opts.now)}${firing(t)}`,
            t.state ?? "(removed)",
            t.fires,
          ]),
        );
  if (schedules.length > 0) {
    out += "\nSchedules\n";
    out += indent(
      table(
        ["machine", "schedule", "next", "in", "event", "states", "cron"],
        schedules.map((s) => [
          s.machine,
          s.name,
          s.nextAt ? when(s.nextAt) : "never",
          s.nextAt ? `${relativeTime(s.nextAt, opts.now)}${firing(s)}` : "-",
          s.event,
          s.states.join(", "),
          `${s.cron} (${s.timezone})`,
        ]),
      ),
    );
  }
  return out;
}

/** `stackseam timers`. */
export async function run(args: string[]): Promise<number> {
  let values: Values;
  try {
    const parsed = parseCommandArgs<Values>("timers", args);
    values = parsed.values;
    if (parsed.positionals.length > 0) throw new Error(`unexpected argument "${parsed.positionals[0]}"`);
  } catch (err) {
    process.stderr.write(`stackseam timers: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const usage = (msg: string) => {
    process.stderr.write(`stackseam timers: ${msg}\n\n${help}`);
    return 2;
  };
  let limit = 100;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit <= 0)
      return usage(`--limit must be a positive whole number, got "${values.limit}"`);
  }
  const conn = resolveConnection(values["database-url"] ? { databaseUrl: values["database-url"] } : {});
  if (!conn.databaseUrl)
    return usage("no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`");

  const sm = await import("@stackseam/state-manager");
  const db = sm.openDatabase(conn.databaseUrl, { max: 1, applicationName: "stackseam-cli" });
  try {
    const now = new Date();
    const dueBy = values.due ? now : undefined;
    // One row more than asked tells whether there are more, without counting them all.
    const rows = await sm.listTimers(db, { limit: limit + 1, ...(dueBy ? { dueBy } : {}) });
    const schedules = await sm.listSchedules(db, dueBy ? { dueBy } : {});
    const machines = new Map<string, Promise<Machine | null>>();
    const machineOf = (t: TimerListing) => {
      if (t.machine === null || t.version === null) return Promise.resolve(null);
      const key = `${t.machine}@${t.version}`;
      let found = machines.get(key);
      if (!found) {
        found = sm.storedMachine(db, t.machine, t.version).catch(() => null);
        machines.set(key, found);
      }
      return found;
    };
    const timers: ListedTimer[] = [];
    for (const t of rows.slice(0, limit)) {
      const ttlEvent = t.name.startsWith("ttl") ? ttlEventOf(await machineOf(t), t.state) : undefined;
      timers.push({ ...t, fires: timerEffect(t.name, ttlEvent), ...(ttlEvent ? { ttlEvent } : {}) });
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ now: now.toISOString(), timers, schedules }, null, 2)}\n`);
    } else {
      process.stdout.write(
        renderTimers(timers, schedules, { now, local: values.local === true, due: values.due === true }),
      );
    }
    if (rows.length > limit) {
      const total = dueBy ? await sm.countDueTimers(db, dueBy) : undefined;
      process.stderr.write(
        `${total !== undefined ? `${total} timers are due; ` : "more timers after these; "}the next ones: stackseam timers${values.due ? " --due" : ""} --limit ${limit * 2}\n`,
      );
    }
    return 0;
  } catch (err) {
    process.stderr.write(`stackseam timers: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}
