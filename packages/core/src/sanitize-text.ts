const ESC = 0x1b;
const BEL = 0x07;
// 8-bit forms of the introducers (C1 controls), which some programs still emit.
const C1_CSI = 0x9b;
const C1_OSC = 0x9d;
const C1_ST = 0x9c;
const C1_STRINGS = new Set([0x90, 0x98, 0x9e, 0x9f]); // DCS, SOS, PM, APC
// ESC followed by these opens a control string ended by ST (or BEL for OSC): OSC, DCS, SOS, PM, APC.
const ESC_STRINGS = new Set(["]", "P", "X", "^", "_"]);
// A control string that never ends within this many characters is treated as stray bytes, so a
// cut or garbled sequence cannot swallow the error text that follows it.
const MAX_STRING_SEQUENCE = 4096;

const between = (c: number, lo: number, hi: number) => c >= lo && c <= hi;

/** Index just past a CSI sequence whose parameters start at `i` (ECMA-48: params, intermediates, final). */
function skipCsi(s: string, i: number): number {
  let j = i;
  while (j < s.length && between(s.charCodeAt(j), 0x30, 0x3f)) j++;
  while (j < s.length && between(s.charCodeAt(j), 0x20, 0x2f)) j++;
  if (j < s.length && between(s.charCodeAt(j), 0x40, 0x7e)) return j + 1;
  // Unterminated or malformed: drop what looked like parameters, keep the rest.
  return j;
}

/**
 * Finds control-string terminators. Positions only move forward, so each search resumes where the
 * last one stopped: text full of unterminated introducers stays linear instead of rescanning.
 */
class Terminators {
  readonly #s: string;
  #st = -2; // index of the next ST (C1 ST or ESC \), -1 when none is left, -2 before the first search
  #bel = -2;

  constructor(s: string) {
    this.#s = s;
  }

  #find(from: number, cached: number, match: (j: number) => boolean): number {
    if (cached === -1 || (cached >= from && cached !== -2)) return cached;
    for (let j = from; j < this.#s.length; j++) if (match(j)) return j;
    return -1;
  }

  /** Index just past the control string whose body starts at `i`, or -1 when it is not terminated in time. */
  end(i: number, bellEnds: boolean): number {
    const s = this.#s;
    this.#st = this.#find(i, this.#st, (j) => {
      const c = s.charCodeAt(j);
      return c === C1_ST || (c === ESC && s[j + 1] === "\\");
    });
    if (bellEnds) this.#bel = this.#find(i, this.#bel, (j) => s.charCodeAt(j) === BEL);
    const candidates: number[] = [];
    if (this.#st !== -1) candidates.push(this.#st + (s.charCodeAt(this.#st) === ESC ? 2 : 1));
    if (bellEnds && this.#bel !== -1) candidates.push(this.#bel + 1);
    if (candidates.length === 0) return -1;
    const end = Math.min(...candidates);
    return end - i <= MAX_STRING_SEQUENCE ? end : -1;
  }
}

/** Index just past the escape sequence starting at `i` (which holds ESC), or `i + 1` for a lone ESC. */
function skipEscape(s: string, i: number, terminators: Terminators): number {
  const next = s[i + 1];
  if (next === undefined) return i + 1;
  if (next === "[") return skipCsi(s, i + 2);
  if (ESC_STRINGS.has(next)) {
    const end = terminators.end(i + 2, next === "]");
    return end === -1 ? i + 2 : end;
  }
  // nF / Fp / Fe / Fs: intermediates then one final byte (ESC c, ESC ( B, ESC 7…).
  let j = i + 1;
  while (j < s.length && between(s.charCodeAt(j), 0x20, 0x2f)) j++;
  return j < s.length && between(s.charCodeAt(j), 0x30, 0x7e) ? j + 1 : i + 1;
}

/** A visible stand-in for a control character: the Unicode control pictures (␀, ␇, ␛, ␡). */
function picture(c: number): string {
  if (c < 0x20) return String.fromCharCode(0x2400 + c);
  if (c === 0x7f) return "\u2421";
  return "\uFFFD";
}

/**
 * Makes any text carriable by SQS and Postgres and readable by a person: terminal escape
 * sequences (colours, cursor moves, OSC titles and links, in 7- and 8-bit form) are removed, CRLF
 * and lone CR become LF, other control characters become their visible control pictures (NUL → ␀,
 * BEL → ␇), and what no message can hold (unpaired surrogates, U+FFFE, U+FFFF) becomes U+FFFD.
 * The result always satisfies `isCarriable`.
 */
export function sanitizeText(text: string): string {
  const s = text.toWellFormed();
  const terminators = new Terminators(s);
  let out = "";
  let plainFrom = 0;
  let i = 0;
  const flush = (to: number) => {
    if (to > plainFrom) out += s.slice(plainFrom, to);
  };
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const isPlain =
      c === 0x09 || c === 0x0a || (c >= 0x20 && c < 0x7f) || (c > 0x9f && c !== 0xfffe && c !== 0xffff);
    if (isPlain) {
      i++;
      continue;
    }
    flush(i);
    let next = i + 1;
    if (c === ESC) next = skipEscape(s, i, terminators);
    else if (c === C1_CSI) next = skipCsi(s, i + 1);
    else if (c === C1_OSC || C1_STRINGS.has(c)) {
      const end = terminators.end(i + 1, c === C1_OSC);
      next = end === -1 ? i + 1 : end;
    } else if (c === 0x0d) {
      out += "\n";
      if (s.charCodeAt(i + 1) === 0x0a) next = i + 2;
    } else if (c === 0xfffe || c === 0xffff) out += "\uFFFD";
    else if (c !== C1_ST) out += picture(c);
    i = next;
    plainFrom = next;
  }
  flush(s.length);
  return out;
}
