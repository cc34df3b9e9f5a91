import { type CST, Lexer, Parser } from "yaml";
import type { PathSegment } from "./paths.js";

/**
 * The largest spec the engine reads, in UTF-8 bytes (1 MiB). Bigger specs are refused before any
 * YAML parsing: parsing costs seconds and hundreds of MB per MB, on every container's first event.
 */
export const MAX_SPEC_BYTES = 1024 * 1024;

/**
 * How deeply a spec's mappings and lists may nest, aliases included. Real specs stay under 15;
 * deeper nesting only exhausts the stack of the recursive readers (YAML's and ours).
 */
export const MAX_SPEC_DEPTH = 64;

/** The UTF-8 size of `text` when it is over `max` bytes, else null (without counting when it cannot be). */
export function bytesOver(text: string, max: number): number | null {
  // One UTF-16 unit is 1 to 3 UTF-8 bytes (a surrogate pair, 2 units, is 4 bytes).
  if (text.length * 3 <= max) return null;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3; // a lone surrogate is written as U+FFFD
    } else bytes += 3;
  }
  return bytes > max ? bytes : null;
}

/** `1 MiB`, `1.5 MiB`, `12.3 KiB`, `300 bytes`. */
export function formatBytes(bytes: number): string {
  const unit = (n: number, name: string) => `${n.toFixed(1).replace(/\.0$/, "")} ${name}`;
  if (bytes >= 1024 * 1024) return unit(bytes / (1024 * 1024), "MiB");
  if (bytes >= 1024) return unit(bytes / 1024, "KiB");
  return `${bytes} bytes`;
}

/** The refusal of a spec of `bytes` UTF-8 bytes, over MAX_SPEC_BYTES (for sources that know the size before reading). */
export function specTooLargeMessage(bytes: number): string {
  return `the spec is ${formatBytes(bytes)} (${bytes} bytes); a spec may be at most ${formatBytes(MAX_SPEC_BYTES)} (${MAX_SPEC_BYTES} bytes): split it into several machines or move data out of it`;
}

export type Tokens = { ok: true; tokens: CST.Token[] } | { ok: false; offset: number };

const COLLECTIONS = new Set<string>(["block-map", "block-seq", "flow-collection"]);

/**
 * The YAML concrete syntax tree of `text`, read one token at a time so that reading stops at the
 * first collection nested deeper than `maxDepth` (with its offset). The parser keeps its open
 * collections on an explicit stack, so this never recurses; the composer that turns tokens into
 * nodes does, which is why it only ever sees bounded input.
 */
export function boundedTokens(text: string, maxDepth: number, onNewLine?: (offset: number) => void): Tokens {
  const parser = new Parser(onNewLine);
  const tokens: CST.Token[] = [];
  // Parser.parse does the same (announcing line 1), minus the depth check between lexemes.
  if (onNewLine) onNewLine(0);
  for (const lexeme of new Lexer().lex(text, false)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    // The stack holds the document, the open collections and at most one pending scalar or property.
    if (parser.stack.length > maxDepth + 1) {
      let depth = 0;
      for (const open of parser.stack) if (COLLECTIONS.has(open.type)) depth++;
      if (depth > maxDepth) return { ok: false, offset: parser.stack.at(-1)?.offset ?? parser.offset };
    }
  }
  for (const token of parser.end()) tokens.push(token);
  return { ok: true, tokens };
}

/**
 * The path to the first value nested deeper than `maxDepth` (counting mappings and lists), or
 * null. Iterative, and each shared object (an alias) is walked once per depth it is reached at,
 * so a value built from aliases cannot make it slow or deep.
 */
export function tooDeepPath(value: unknown, maxDepth: number): PathSegment[] | null {
  const deepestSeen = new Map<object, number>();
  const stack: { node: unknown; path: PathSegment[] }[] = [{ node: value, path: [] }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node, path } = item;
    if (node === null || typeof node !== "object") continue;
    const depth = path.length + 1;
    if (depth > maxDepth) return path;
    if ((deepestSeen.get(node) ?? 0) >= depth) continue;
    deepestSeen.set(node, depth);
    const children: [PathSegment, unknown][] = Array.isArray(node)
      ? [...node.entries()]
      : Object.entries(node);
    // Pushed last first, so that the walk (and the path reported) follows document order.
    for (let k = children.length - 1; k >= 0; k--) {
      const [segment, child] = children[k] as [PathSegment, unknown];
      stack.push({ node: child, path: [...path, segment] });
    }
  }
  return null;
}
