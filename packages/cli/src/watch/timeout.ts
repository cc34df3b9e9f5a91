// --timeout as people write it in a pipeline: the spec's duration form (90s, 20m, 1h30m, 2h, 1d) or
// a bare number of seconds.
const FORM = /^(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Milliseconds in `--timeout` text, or an Error saying what is accepted. */
export function parseTimeout(text: string): number | Error {
  const bare = /^\d+$/.test(text) ? Number(text) * 1000 : undefined;
  const m = bare === undefined ? FORM.exec(text) : null;
  const ms =
    bare ??
    (m
      ? [86_400_000, 3_600_000, 60_000, 1000].reduce((sum, size, i) => sum + Number(m[i + 1] ?? 0) * size, 0)
      : undefined);
  if (ms === undefined || !Number.isSafeInteger(ms) || ms <= 0)
    return new Error(
      `--timeout must be a positive duration such as 90s, 20m, 1h30m or 600 (seconds), got "${text}"`,
    );
  return ms;
}

/** A duration for a person: 1h2m, 45s, 1.2 s below ten seconds. */
export function humanDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const parts: string[] = [];
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (sec || parts.length === 0) parts.push(`${sec}s`);
  return parts.join("");
}
