import { Cron } from "croner";

/** A cron pattern that has been checked: its next occurrences can be read. */
function compile(cron: string, timezone: string | undefined): Cron {
  // A Cron without a callback never schedules anything: it only answers questions about times.
  return new Cron(cron, { mode: "5-part", timezone: timezone ?? "UTC", paused: true });
}

/** Why a schedule's cron pattern or time zone is unusable, or undefined when it is fine. */
export function scheduleProblem(cron: string, timezone: string | undefined): string | undefined {
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    } catch {
      return `"${timezone}" is not a time zone: use an IANA name like Europe/Berlin or America/New_York`;
    }
  }
  try {
    compile(cron, timezone);
  } catch (err) {
    return `"${cron}" is not a cron pattern (minute hour day-of-month month day-of-week, like "0 19 * * 1-5"): ${err instanceof Error ? err.message : String(err)}`;
  }
  return undefined;
}

/**
 * The first occurrence strictly after `after`, as an ISO timestamp. Local times that a daylight
 * saving change skips fire at the first valid minute after the gap; times it repeats fire once.
 */
export function nextOccurrence(cron: string, timezone: string | undefined, after: Date): string | undefined {
  return compile(cron, timezone).nextRun(after)?.toISOString();
}
