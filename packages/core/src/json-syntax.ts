/** Where JSON text first stops being JSON, and what kind of mistake it is there. */
export interface JsonSyntaxProblem {
  /** 0-based offset in the text (UTF-16 units, as JSON.parse counts). */
  position: number;
  problem: string;
}

type Expect = "value" | "value-or-]" | "key" | "key-or-}" | "colon" | "after-value" | "end";

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const LITERALS = ["true", "false", "null"] as const;

/**
 * The first syntax error in `text` by RFC 8259 (what JSON.parse accepts), or null when it is JSON.
 * Our own scan, so that a reason or a log line can say where and what without quoting the text,
 * which may hold a secret (Node's JSON.parse messages quote it). Iterative: any depth is fine.
 */
export function jsonSyntaxProblem(text: string): JsonSyntaxProblem | null {
  const open: ("{" | "[")[] = [];
  let expect: Expect = "value";
  let i = 0;
  const fail = (position: number, problem: string): JsonSyntaxProblem => ({ position, problem });
  const afterValue = (): Expect => (open.length === 0 ? "end" : "after-value");

  // Returns the offset after the closing quote, or a problem.
  const string = (start: number): number | JsonSyntaxProblem => {
    for (let j = start + 1; j < text.length; ) {
      const c = text.charCodeAt(j);
      if (c === 0x22) return j + 1;
      if (c < 0x20) return fail(j, "control character in a string (escape it)");
      if (c !== 0x5c) {
        j++;
        continue;
      }
      const e = text[j + 1];
      if (e === "u") {
        for (let k = j + 2; k < j + 6; k++) {
          if (k >= text.length) return fail(text.length, "unterminated string");
          if (!isHex(text.charCodeAt(k))) return fail(k, "bad \\u escape in a string");
        }
        j += 6;
      } else if (e !== undefined && ESCAPES.has(e)) j += 2;
      else
        return e === undefined
          ? fail(text.length, "unterminated string")
          : fail(j + 1, "bad escape in a string");
    }
    return fail(text.length, "unterminated string");
  };

  const number = (start: number): number | JsonSyntaxProblem => {
    let j = start;
    if (text[j] === "-") j++;
    if (text[j] === "0") j++;
    else if (isDigit(text.charCodeAt(j))) while (isDigit(text.charCodeAt(j))) j++;
    else return fail(j, "malformed number: a digit must follow the minus sign");
    if (text[j] === ".") {
      j++;
      if (!isDigit(text.charCodeAt(j)))
        return fail(j, "malformed number: digits must follow the decimal point");
      while (isDigit(text.charCodeAt(j))) j++;
    }
    if (text[j] === "e" || text[j] === "E") {
      j++;
      if (text[j] === "+" || text[j] === "-") j++;
      if (!isDigit(text.charCodeAt(j))) return fail(j, "malformed number: the exponent has no digits");
      while (isDigit(text.charCodeAt(j))) j++;
    }
    return j;
  };

  for (;;) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (i >= text.length) return expect === "end" ? null : fail(i, "unexpected end of input");
    const c = text[i] as string;
    const top = open.at(-1);
    switch (expect) {
      case "end":
        return fail(i, "unexpected data after the JSON value");
      case "colon":
        if (c !== ":") return fail(i, "expected ':' after a property name");
        i++;
        expect = "value";
        continue;
      case "after-value":
        if (c === ",") {
          i++;
          expect = top === "{" ? "key" : "value";
        } else if ((top === "{" && c === "}") || (top === "[" && c === "]")) {
          open.pop();
          i++;
          expect = afterValue();
        } else {
          return fail(i, top === "{" ? "expected ',' or '}' after a property value" : "expected ',' or ']'");
        }
        continue;
      case "key-or-}":
      case "key": {
        if (expect === "key-or-}" && c === "}") {
          open.pop();
          i++;
          expect = afterValue();
          continue;
        }
        if (c !== '"') return fail(i, "expected a property name in double quotes");
        const end = string(i);
        if (typeof end !== "number") return end;
        i = end;
        expect = "colon";
        continue;
      }
      case "value-or-]":
      case "value": {
        if (expect === "value-or-]" && c === "]") {
          open.pop();
          i++;
          expect = afterValue();
          continue;
        }
        if (c === "{" || c === "[") {
          open.push(c);
          i++;
          expect = c === "{" ? "key-or-}" : "value-or-]";
          continue;
        }
        let end: number | JsonSyntaxProblem;
        if (c === '"') end = string(i);
        else if (c === "-" || isDigit(c.charCodeAt(0))) end = number(i);
        else {
          const literal = LITERALS.find((word) => word[0] === c);
          if (literal === undefined) return fail(i, "unexpected token");
          // Point at the first character that breaks the word, as JSON.parse does.
          for (let k = 1; k < literal.length; k++) {
            if (i + k >= text.length) return fail(i + k, "unexpected end of input");
            if (text[i + k] !== literal[k]) return fail(i + k, "unexpected token");
          }
          end = i + literal.length;
        }
        if (typeof end !== "number") return end;
        i = end;
        expect = afterValue();
        continue;
      }
    }
  }
}

/**
 * `malformed JSON at position 17: unexpected token`: says where and what, never quotes the text.
 */
export function malformedJsonReason(text: string): string {
  const found = jsonSyntaxProblem(text);
  // JSON.parse refused what this scan accepts: only possible for a bug here; still say nothing of the text.
  if (found === null) return "malformed JSON";
  return `malformed JSON at position ${found.position}: ${found.problem}`;
}
