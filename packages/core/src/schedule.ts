import { Cron } from "croner";

/** A cron pattern that has been checked: its next occurrences can be read. */
function compile(cron: string, timezone: string | undefined): Cron {
  // A Cron without a callback never schedules anything: it only answers questions about times.
  return new Cron(cron, { mode: "5-part", timezone: timezone ?? "UTC", paused: true });
}

// The process's first Intl.DateTimeFormat loads ICU's date formatting data: ~12 ms, paid by every
// cold start that validates a spec with a schedule. The list of canonical zone names costs ~1.5 ms.
// A name outside it (an alias, another spelling) still gets the full check, so what passes is
// exactly what Intl.DateTimeFormat accepts. ECMA-402 requires every implementation to accept "UTC".
let canonicalZones: Set<string> | undefined;

/** Whether Intl accepts `name` as a time zone. */
export function isTimeZone(name: string): boolean {
  canonicalZones ??= new Set([...Intl.supportedValuesOf("timeZone"), "UTC"]);
  if (canonicalZones.has(name)) return true;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Why a schedule's cron pattern or time zone is unusable, or undefined when it is fine. */
export function scheduleProblem(cron: string, timezone: string | undefined): string | undefined {
  if (timezone !== undefined && !isTimeZone(timezone)) {
    return `"${timezone}" is not a time zone: use an IANA name like Europe/Berlin or America/New_York`;
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
