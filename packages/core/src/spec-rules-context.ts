import type { PathSegment } from "./paths.js";

/** What the rule groups share: the spec as read so far, the graph, and where to put problems. */
export interface RuleContext {
  spec: Record<string, unknown>;
  events: ReadonlySet<string>;
  states: Record<string, unknown>;
  stateNames: readonly string[];
  tasks: Record<string, unknown> | undefined;
  /** State → the states its handlers can advance to (NEXT only where it can fire). */
  edges: ReadonlyMap<string, ReadonlySet<string>>;
  error(path: PathSegment[], message: string, atKey?: boolean): void;
  warn(path: PathSegment[], message: string, atKey?: boolean): void;
}

/** The states reachable from `start` by following edges (start itself included). */
export function reachableFrom(edges: ReadonlyMap<string, ReadonlySet<string>>, start: string): Set<string> {
  const seen = new Set([start]);
  const queue = [start];
  for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
    for (const target of edges.get(current) ?? []) {
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return seen;
}

/** Whether `state` handles `event` in its `on` mapping. */
export function handles(state: unknown, event: string): boolean {
  if (typeof state !== "object" || state === null) return false;
  const on = (state as { on?: unknown }).on;
  return typeof on === "object" && on !== null && Object.hasOwn(on, event);
}

/** Entries with a string value at `key` that appear more than once in a list, as [index, value, first index]. */
export function repeats(list: readonly unknown[]): [number, string, number][] {
  const seen = new Map<string, number>();
  const out: [number, string, number][] = [];
  list.forEach((value, i) => {
    if (typeof value !== "string") return;
    const first = seen.get(value);
    if (first === undefined) seen.set(value, i);
    else out.push([i, value, first]);
  });
  return out;
}
