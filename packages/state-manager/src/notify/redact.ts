// What of a target may appear in logs and in last_error: never a secret, never a webhook URL's path
// or query (Slack and most chat webhooks carry their token there) nor its user info.

/** The part of a webhook URL that is safe to show: scheme, host and port (`https://hooks.example`). */
export function urlForLogs(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(an invalid URL)";
  }
}

/**
 * Removes every occurrence of the given sensitive strings (a URL, its path and query, a secret)
 * from a text. Defence in depth: the sender builds its error texts from status codes and error
 * codes, but a library's message might one day quote what it was given.
 */
export function scrub(text: string, sensitive: readonly (string | undefined)[]): string {
  let out = text;
  const words = sensitive
    .filter((s): s is string => typeof s === "string" && s.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const s of words) out = out.split(s).join("[redacted]");
  return out;
}

/** The sensitive pieces of a webhook URL, for scrub: the URL, its path and its query. */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    const out = [url, u.href, u.pathname + u.search, u.search.slice(1), u.username, u.password];
    for (const part of u.pathname.split("/")) if (part.length >= 8) out.push(part);
    return out.filter((s) => s !== "" && s !== "/");
  } catch {
    return [url];
  }
}
