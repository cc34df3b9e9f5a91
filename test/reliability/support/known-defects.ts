/**
 * Inputs the fuzzer sets aside (and counts) because a test double, not Stackseam, cannot carry
 * them. The two defects the fuzzer once found here (characters SQS or Postgres cannot carry made
 * records fail forever) are fixed; known-defects.int.test.ts keeps their regression tests.
 */

/** Characters beyond U+FFFF: real SQS carries them, fauxqs 2.4 refuses them (a test-double limit). */
const ASTRAL = /[\uD800-\uDBFF][\uDC00-\uDFFF]/;

function someString(value: unknown, test: (s: string) => boolean, depth = 0): boolean {
  if (typeof value === "string") return test(value);
  if (depth > 200 || value === null || typeof value !== "object") return false;
  for (const [k, v] of Object.entries(value)) if (test(k) || someString(v, test, depth + 1)) return true;
  return false;
}

function parsed(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** A body fauxqs would refuse to carry (in a report) although real SQS would accept it. */
export function hitsFauxqsLimit(body: string): boolean {
  return someString(parsed(body), (s) => ASTRAL.test(s));
}
