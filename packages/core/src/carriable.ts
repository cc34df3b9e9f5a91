import { formatPath } from "./paths.js";

// What both SQS (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF) and Postgres text/jsonb
// (no NUL) can carry. A lone surrogate is not a character at all.
const UNCARRIABLE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const MAX_DEPTH = 64;

/** Whether a string can travel through SQS and be stored by Postgres unchanged. */
export function isCarriable(s: string): boolean {
  return !UNCARRIABLE.test(s);
}

/**
 * Why a parsed message could not travel through SQS and Postgres, or null when it can. Such a
 * message would fail downstream on every retry, so it is refused up front; the reason never
 * quotes the offending text (it could not be stored either).
 */
export function uncarriableReason(value: unknown): string | null {
  const walk = (v: unknown, path: (string | number)[]): string | null => {
    if (typeof v === "string") {
      return isCarriable(v)
        ? null
        : `${formatPath(path) || "the message"}: contains a character that SQS or Postgres cannot carry (NUL, an unpaired surrogate, U+FFFE or U+FFFF, or a control character)`;
    }
    if (v === null || typeof v !== "object") return null;
    if (path.length >= MAX_DEPTH) return `${formatPath(path)}: nested more than ${MAX_DEPTH} levels deep`;
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.entries(v);
    for (const [k, child] of entries) {
      if (typeof k === "string" && !isCarriable(k)) {
        return `${formatPath(path) || "the message"}: a key contains a character that SQS or Postgres cannot carry`;
      }
      const found = walk(child, [...path, k]);
      if (found !== null) return found;
    }
    return null;
  };
  return walk(value, []);
}
