/**
 * Event sequences generated from a machine's graph, in the spirit of @xstate/graph (shortest
 * paths and simple paths), over the states a stack can rest in between events. Written for this
 * suite from the spec reference: an event's handler moves a stack to the last state it advances
 * to (or removes it: a terminal state without tasks); a state with tasks is left by NEXT once they
 * are all satisfied (the Task Satisfier's reports drive that edge, not a publisher).
 */
import type { ActionSpec, MachineSpec } from "@stackseam/core";
import { INIT, NEXT } from "./reference-model.js";

/** The node standing for "the stack was removed" (not a valid state name, so it cannot collide). */
export const REMOVED = "(removed)";

/** One edge: an event a state handles (or its tasks finishing), and where the stack rests next. */
export interface LifeEdge {
  from: string;
  /** The event, or NEXT for "every task satisfied" (terminal states: removal). */
  event: string;
  to: string;
  /** True for the edge the engine takes by itself once the tasks are satisfied. */
  internal: boolean;
}

export interface LifeGraph {
  machine: string;
  nodes: string[];
  edges: LifeEdge[];
}

/** A generated sequence: the edges from INIT, and the external events a publisher sends for them. */
export interface LifePath {
  kind: "shortest" | "transition" | "simple";
  /** The node the path reaches. */
  target: string;
  edges: LifeEdge[];
  events: string[];
}

/** Where a stack rests after `actions` from `state`: the last state advanced to, or REMOVED. */
function restsAt(spec: MachineSpec, state: string, actions: readonly ActionSpec[]): string {
  let at = state;
  for (const action of actions) {
    if (action.action !== "advance") continue;
    at = action.state;
    const target = spec.states[at];
    if (target?.terminal === true && (target.tasks ?? []).length === 0) return REMOVED;
  }
  return at;
}

/**
 * INIT once a stack came back to it: unlike a new stack's INIT, its tasks run and NEXT leaves it.
 * (A stack is created in INIT without dispatching INIT's tasks.)
 */
export const INIT_AGAIN = "INIT (re-entered)";

/**
 * The graph of a machine: nodes are the states a stack can wait in, plus REMOVED (and INIT_AGAIN
 * when INIT has tasks).
 */
export function lifeGraph(name: string, spec: MachineSpec): LifeGraph {
  const initHasTasks = (spec.states[INIT]?.tasks ?? []).length > 0;
  const node = (state: string) => (state === INIT && initHasTasks ? INIT_AGAIN : state);
  const edges: LifeEdge[] = [];
  for (const [state, def] of Object.entries(spec.states)) {
    const froms = state === INIT && initHasTasks ? [INIT, INIT_AGAIN] : [state];
    for (const [event, actions] of Object.entries(def.on ?? {})) {
      if (event === NEXT) continue;
      const to = node(restsAt(spec, state, actions));
      for (const from of froms)
        edges.push({ from, event, to: from === INIT && to === INIT_AGAIN ? INIT : to, internal: false });
    }
    if ((def.tasks ?? []).length === 0) continue;
    const done = def.terminal === true ? REMOVED : node(restsAt(spec, state, def.on?.[NEXT] ?? []));
    edges.push({ from: node(state), event: NEXT, to: done, internal: true });
  }
  const nodes = [...Object.keys(spec.states), ...(initHasTasks ? [INIT_AGAIN] : []), REMOVED];
  return { machine: name, nodes, edges };
}

const external = (edges: readonly LifeEdge[]) => edges.filter((e) => !e.internal).map((e) => e.event);

function outgoing(graph: LifeGraph): Map<string, LifeEdge[]> {
  const out = new Map<string, LifeEdge[]>();
  for (const e of graph.edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  return out;
}

/** Breadth-first: the shortest edge sequence from INIT to every reachable node. */
export function shortestPaths(graph: LifeGraph): Map<string, LifeEdge[]> {
  const out = outgoing(graph);
  const paths = new Map<string, LifeEdge[]>([[INIT, []]]);
  const queue = [INIT];
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    const here = paths.get(node) as LifeEdge[];
    if (node === REMOVED) continue;
    for (const e of out.get(node) ?? []) {
      if (paths.has(e.to)) continue;
      paths.set(e.to, [...here, e]);
      queue.push(e.to);
    }
  }
  return paths;
}

/** Every simple path (no node twice) from INIT, each prefix counted as a path to its last node; at most `limit`. */
export function simplePaths(graph: LifeGraph, limit: number): LifeEdge[][] {
  const out = outgoing(graph);
  const found: LifeEdge[][] = [];
  const visit = (node: string, seen: Set<string>, path: LifeEdge[]) => {
    if (node === REMOVED) return;
    for (const e of out.get(node) ?? []) {
      if (found.length >= limit) return;
      if (seen.has(e.to)) continue;
      const next = [...path, e];
      found.push(next);
      visit(e.to, new Set([...seen, e.to]), next);
    }
  };
  visit(INIT, new Set([INIT]), []);
  return found;
}

/**
 * The generated workload of a machine: the shortest path to every state, the shortest path
 * through every transition (self-loops and no-ops included, which simple paths skip), and the
 * simple paths, each reduced to the events a publisher sends. Paths with no event are dropped.
 */
export function generatedPaths(graph: LifeGraph, simpleLimit = 200): LifePath[] {
  const shortest = shortestPaths(graph);
  const paths: LifePath[] = [];
  for (const [target, edges] of shortest)
    paths.push({ kind: "shortest", target, edges, events: external(edges) });
  for (const e of graph.edges) {
    const before = shortest.get(e.from);
    if (!before) continue;
    const edges = [...before, e];
    paths.push({ kind: "transition", target: e.to, edges, events: external(edges) });
  }
  for (const edges of simplePaths(graph, simpleLimit)) {
    const last = edges[edges.length - 1] as LifeEdge;
    paths.push({ kind: "simple", target: last.to, edges, events: external(edges) });
  }
  const seen = new Set<string>();
  return paths.filter((p) => {
    const key = p.events.join(" ");
    if (p.events.length === 0 || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The transitions (`state EVENT`) reachable from INIT: what a workload should exercise. */
export function reachableTransitions(graph: LifeGraph): string[] {
  const shortest = shortestPaths(graph);
  return graph.edges.filter((e) => !e.internal && shortest.has(e.from)).map((e) => `${e.from} ${e.event}`);
}
