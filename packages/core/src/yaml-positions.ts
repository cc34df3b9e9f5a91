import {
  type Document,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Pair,
  stringify,
  type YAMLMap,
} from "yaml";
import type { PathSegment } from "./paths.js";

export interface Position {
  line: number;
  column: number;
}

interface Found {
  key?: Node | undefined;
  value?: Node | undefined;
}

/** 1-based line and column of the node a path names, falling back to its nearest ancestor found. */
export function positionOf(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PathSegment[],
  atKey: boolean,
): Position {
  const found = locate(doc, path);
  const value = found.value;
  // A collection's own range starts at its first entry; its key is where a reader looks.
  const preferKey =
    atKey || value === undefined || isCollection(value) || (isScalar(value) && value.value === null);
  const node = preferKey ? (found.key ?? value) : (value ?? found.key);
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function locate(doc: Document, path: readonly PathSegment[]): Found {
  let found: Found = { value: doc.contents ?? undefined };
  for (const segment of path) {
    const node = resolve(doc, found.value);
    let next: Found | undefined;
    if (isMap(node)) {
      const pair = findPair(doc, node, String(segment), new Set());
      if (pair) next = { key: pair.key as Node, value: (pair.value ?? undefined) as Node | undefined };
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment];
      if (item !== undefined) next = { value: item as Node };
    }
    if (!next) return found;
    found = next;
  }
  return found;
}

function resolve(doc: Document, node: Node | undefined): Node | undefined {
  let current: Node | undefined = node;
  for (let hops = 0; current !== undefined && isAlias(current) && hops < 100; hops++) {
    current = current.resolve(doc) as Node | undefined;
  }
  return current;
}

// Merge sources can merge others in turn; a chain longer than this is hostile, and following it
// further would exhaust the stack. The position then falls back to the nearest ancestor.
const MAX_MERGE_HOPS = 200;

// Explicit keys win over merged ones, the last duplicate wins (as in toJS), and earlier merge
// sources win over later ones, as YAML merge keys specify.
function findPair(doc: Document, map: YAMLMap, key: string, seen: Set<YAMLMap>): Pair | undefined {
  if (seen.has(map) || seen.size >= MAX_MERGE_HOPS) return undefined;
  seen.add(map);
  let explicit: Pair | undefined;
  const merges: Node[] = [];
  for (const pair of map.items) {
    if (!isPair(pair)) continue;
    if (isMergeKey(pair.key)) {
      const sources = resolve(doc, pair.value as Node | undefined);
      if (isSeq(sources)) merges.push(...(sources.items as Node[]));
      else if (sources) merges.push(sources);
    } else if (keyText(pair.key) === key) {
      explicit = pair;
    }
  }
  if (explicit) return explicit;
  for (const source of merges) {
    const target = resolve(doc, source);
    if (isMap(target)) {
      const pair = findPair(doc, target, key, seen);
      if (pair) return pair;
    }
  }
  return undefined;
}

export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (key.source === "<<" || key.value === "<<");
}

/** A key as `toJS` names it in the parsed object, so that a diagnostic's path finds its node. */
export function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  // toJS names a collection key by its flow-style YAML (`[ a, b ]`), not by String()'s JSON.
  if (isCollection(key)) return stringify(key, { collectionStyle: "flow" }).trimEnd();
  return String(key);
}

export interface DuplicateKey {
  path: PathSegment[];
  key: string;
  line: number;
  column: number;
  firstLine: number;
}

/** Every key that repeats within one mapping, found in the source text (aliases are not followed). */
export function duplicateKeys(doc: Document, lineCounter: LineCounter): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  const walk = (node: unknown, path: PathSegment[]): void => {
    if (isMap(node)) {
      const first = new Map<string, Node>();
      for (const pair of node.items) {
        if (!isPair(pair) || isMergeKey(pair.key)) {
          if (isPair(pair)) walk(pair.value, path);
          continue;
        }
        const key = keyText(pair.key);
        const keyNode = pair.key as Node;
        const earlier = first.get(key);
        if (earlier) {
          const at = lineCounter.linePos(keyNode.range?.[0] ?? 0);
          const before = lineCounter.linePos(earlier.range?.[0] ?? 0);
          out.push({ path: [...path, key], key, line: at.line, column: at.col, firstLine: before.line });
        } else {
          first.set(key, keyNode);
        }
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        walk(item, [...path, index]);
      });
    }
  };
  walk(doc.contents, []);
  return out;
}
