/**
 * Finds the backend a Terraform root module declares (`terraform { backend "<type>" { … } }` or a
 * `cloud { … }` block), in native syntax (`.tf`) and JSON syntax (`.tf.json`). A small tokenizer
 * rather than a regular expression: comments, strings that contain braces, `${…}` templates and
 * heredocs must not fool it either way.
 */

import { jsonSyntaxProblem } from "@stackseam/core";

/** What the module declares about where its state lives. */
export type DeclaredBackend =
  | { kind: "none" }
  | { kind: "backend"; type: string; file: string; line: number }
  | { kind: "cloud"; file: string; line: number };

/** A file Terraform could not parse either; the run is refused with this reason. */
export class HclSyntaxError extends Error {
  readonly line: number;

  constructor(message: string, line: number) {
    super(message);
    this.name = "HclSyntaxError";
    this.line = line;
  }
}

type Token =
  | { t: "ident"; v: string; line: number }
  | { t: "string"; v: string; line: number }
  | { t: "{" | "}" | "(" | ")" | "[" | "]" | "=" | "nl" | "other"; line: number };

const IDENT_START = /[\p{L}_]/u;
const IDENT_PART = /[\p{L}\p{N}_-]/u;

/** Splits HCL native syntax into the tokens the block structure needs. */
export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (what: string, at: number): never => {
    throw new HclSyntaxError(what, at);
  };

  /** Skips a quoted string starting at `i` (on the quote); returns its literal text (templates elided). */
  const readString = (): string => {
    const start = line;
    let text = "";
    i++;
    while (i < src.length) {
      const c = src[i];
      if (c === '"') {
        i++;
        return text;
      }
      if (c === "\n") fail("a quoted string is not closed before the end of the line", start);
      if (c === "\\") {
        text += src[i + 1] ?? "";
        i += 2;
        continue;
      }
      if ((c === "$" || c === "%") && src[i + 1] === "{") {
        i += 2;
        skipTemplate(start);
        continue;
      }
      if ((c === "$" || c === "%") && src[i + 1] === c && src[i + 2] === "{") {
        text += `${c}{`;
        i += 3;
        continue;
      }
      text += c;
      i++;
    }
    return fail("a quoted string is never closed", start);
  };

  /** Skips a `${ … }` / `%{ … }` sequence body up to its closing brace, nested strings included. */
  const skipTemplate = (start: number) => {
    let depth = 0;
    while (i < src.length) {
      const c = src[i];
      if (c === '"') {
        readString();
        continue;
      }
      if (c === "\n") line++;
      if (c === "{") depth++;
      if (c === "}") {
        if (depth === 0) {
          i++;
          return;
        }
        depth--;
      }
      i++;
    }
    fail("a template sequence (dollar or percent brace) is never closed", start);
  };

  while (i < src.length) {
    const c = src[i] as string;
    if (c === "\n") {
      tokens.push({ t: "nl", line });
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#" || (c === "/" && src[i + 1] === "/")) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const start = line;
      const end = src.indexOf("*/", i + 2);
      if (end === -1) fail("a /* comment */ is never closed", start);
      for (let j = i; j < end; j++) if (src[j] === "\n") line++;
      i = end + 2;
    } else if (c === '"') {
      const at = line;
      tokens.push({ t: "string", v: readString(), line: at });
    } else if (c === "<" && src[i + 1] === "<") {
      const m = /^<<-?([\p{L}_][\p{L}\p{N}_-]*)[ \t]*\r?\n/u.exec(src.slice(i, i + 200));
      if (!m) {
        tokens.push({ t: "other", line });
        i += 2;
        continue;
      }
      const marker = m[1] as string;
      const start = line;
      tokens.push({ t: "string", v: "", line });
      i += m[0].length;
      line++;
      for (;;) {
        if (i >= src.length) fail(`the heredoc <<${marker} is never closed`, start);
        const nl = src.indexOf("\n", i);
        const end = nl === -1 ? src.length : nl;
        const text = src.slice(i, end).trim();
        i = nl === -1 ? src.length : nl + 1;
        if (nl !== -1) line++;
        if (text === marker) {
          tokens.push({ t: "nl", line: line - 1 });
          break;
        }
      }
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < src.length && IDENT_PART.test(src[j] as string)) j++;
      tokens.push({ t: "ident", v: src.slice(i, j), line });
      i = j;
    } else if (c === "{" || c === "}" || c === "(" || c === ")" || c === "[" || c === "]" || c === "=") {
      // `==` and `=>` are operators, not an attribute's `=`.
      if (c === "=" && (src[i + 1] === "=" || src[i + 1] === ">")) {
        tokens.push({ t: "other", line });
        i += 2;
      } else {
        tokens.push({ t: c, line });
        i++;
      }
    } else {
      tokens.push({ t: "other", line });
      i++;
    }
  }
  return tokens;
}

interface Block {
  type: string;
  labels: string[];
  line: number;
  body: Block[];
}

/** The blocks of a body (attributes and expressions are skipped), from the tokens of a whole file. */
function parseBlocks(tokens: Token[]): Block[] {
  let p = 0;
  const open: Record<string, string> = { "{": "}", "(": ")", "[": "]" };

  /** Skips an attribute's expression: up to a newline or a `}` that is not inside brackets. */
  const skipExpression = () => {
    const stack: string[] = [];
    while (p < tokens.length) {
      const tok = tokens[p] as Token;
      if (stack.length === 0 && (tok.t === "nl" || tok.t === "}")) return;
      const closer = open[tok.t];
      if (closer) stack.push(closer);
      else if (tok.t === stack[stack.length - 1]) stack.pop();
      p++;
    }
  };

  const body = (nested: boolean): Block[] => {
    const blocks: Block[] = [];
    while (p < tokens.length) {
      const tok = tokens[p] as Token;
      if (tok.t === "nl") {
        p++;
        continue;
      }
      if (tok.t === "}") {
        if (nested) {
          p++;
          return blocks;
        }
        throw new HclSyntaxError("a } closes nothing", tok.line);
      }
      if (tok.t !== "ident") {
        p++;
        continue;
      }
      p++;
      const labels: string[] = [];
      while (p < tokens.length) {
        const next = tokens[p] as Token;
        if (next.t !== "string" && next.t !== "ident") break;
        labels.push(next.v);
        p++;
      }
      const next = tokens[p];
      if (next?.t === "{") {
        p++;
        blocks.push({ type: tok.v, labels, line: tok.line, body: body(true) });
      } else if (next?.t === "=") {
        p++;
        skipExpression();
      } else {
        skipExpression();
      }
    }
    if (nested) throw new HclSyntaxError("a block is never closed (missing })", tokens.at(-1)?.line ?? 1);
    return blocks;
  };
  return body(false);
}

function fromNative(file: string, text: string): DeclaredBackend {
  for (const block of parseBlocks(tokenize(text))) {
    if (block.type !== "terraform" || block.labels.length > 0) continue;
    for (const inner of block.body) {
      if (inner.type === "backend" && inner.labels.length === 1) {
        return { kind: "backend", type: inner.labels[0] as string, file, line: inner.line };
      }
      if (inner.type === "cloud" && inner.labels.length === 0)
        return { kind: "cloud", file, line: inner.line };
    }
  }
  return { kind: "none" };
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function fromJson(file: string, text: string): DeclaredBackend {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    // Not JSON.parse's message: it quotes the text around the error (a module may hold secrets).
    const found = jsonSyntaxProblem(text);
    const line = found === null ? 1 : text.slice(0, found.position).split("\n").length;
    throw new HclSyntaxError(`not valid JSON${found === null ? "" : `: ${found.problem}`}`, line);
  }
  if (!isObject(root)) return { kind: "none" };
  for (const tf of asList(root.terraform)) {
    if (!isObject(tf)) continue;
    for (const backend of asList(tf.backend)) {
      if (!isObject(backend)) continue;
      const [type] = Object.keys(backend);
      if (type !== undefined) return { kind: "backend", type, file, line: 1 };
    }
    if (tf.cloud !== undefined) return { kind: "cloud", file, line: 1 };
  }
  return { kind: "none" };
}

/** Whether Terraform (or OpenTofu) reads this file as part of the root module's configuration. */
export function isConfigFile(name: string): boolean {
  if (name.startsWith(".") || name.endsWith("~") || (name.startsWith("#") && name.endsWith("#")))
    return false;
  return /\.(tf|tofu)(\.json)?$/.test(name);
}

/**
 * The backend declared across a root module's files (name → content). Throws HclSyntaxError,
 * naming the file, when one cannot be read the way Terraform would.
 */
export function declaredBackend(files: ReadonlyArray<{ name: string; text: string }>): DeclaredBackend {
  for (const { name, text } of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!isConfigFile(name)) continue;
    let found: DeclaredBackend;
    try {
      found = name.endsWith(".json") ? fromJson(name, text) : fromNative(name, text);
    } catch (err) {
      if (err instanceof HclSyntaxError) {
        throw new HclSyntaxError(`${name}:${err.line}: ${err.message}`, err.line);
      }
      throw err;
    }
    if (found.kind !== "none") return found;
  }
  return { kind: "none" };
}
