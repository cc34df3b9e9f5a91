import type { Machine } from "./machine.js";
import { INIT } from "./model.js";

export type GraphFormat = "mermaid" | "dot";

/** One drawn transition: an event's advance, or a no-op handler drawn as a self-loop. */
export interface GraphEdge {
  from: string;
  to: string;
  label: string;
  /** The event that takes it. */
  event: string;
  noop: boolean;
}

/** One state as drawn. */
export interface GraphState {
  name: string;
  tasks: string[];
  terminal: boolean;
}

/** What `graph` and the dashboard draw: the states in spec order and the deduplicated edges. */
export interface GraphModel {
  machine: string;
  /** The state every stack starts in, when the machine has it. */
  initial: string | null;
  states: GraphState[];
  edges: GraphEdge[];
}

/** The machine as a graph, for renderers other than the text formats (the dashboard's SVG). */
export function machineGraphModel(machine: Machine): GraphModel {
  return {
    machine: machine.name,
    initial: machine.states.has(INIT) ? INIT : null,
    states: [...machine.states].map(([name, state]) => ({
      name,
      tasks: [...(state.tasks ?? [])],
      terminal: state.terminal === true,
    })),
    edges: machineEdges(machine),
  };
}

/** Draws a machine as a Mermaid stateDiagram-v2 or a Graphviz DOT digraph. */
export function machineGraph(machine: Machine, format: GraphFormat): string {
  const edges = machineEdges(machine);
  return format === "mermaid" ? mermaid(machine, edges) : dot(machine, edges);
}

// no-op and defer handlers are drawn as self-loops so every handled event is visible.
function machineEdges(machine: Machine): GraphEdge[] {
  const edges: GraphEdge[] = [];
  for (const [name, state] of machine.states) {
    for (const [event, actions] of Object.entries(state.on ?? {})) {
      for (const action of actions) {
        if (action.action === "advance")
          edges.push({ from: name, to: action.state, label: event, event, noop: false });
        else {
          // A deferral changes nothing now either; its label says the event is kept, not dropped.
          const kind = action.action === "defer" ? "deferred" : "no-op";
          edges.push({ from: name, to: name, label: `${event} (${kind})`, event, noop: true });
        }
      }
    }
  }
  const seen = new Set<string>();
  return edges.filter((e) => {
    const id = `${e.from}\u0000${e.to}\u0000${e.label}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function mermaid(machine: Machine, edges: GraphEdge[]): string {
  // State names may contain dashes, which Mermaid ids do not accept.
  const id = (name: string) => name.replaceAll("-", "_");
  const lines = ["stateDiagram-v2", `  %% machine ${machine.name}`];
  for (const name of machine.states.keys()) {
    if (id(name) !== name) lines.push(`  state "${name}" as ${id(name)}`);
  }
  if (machine.states.has(INIT)) lines.push(`  [*] --> ${INIT}`);
  for (const e of edges) lines.push(`  ${id(e.from)} --> ${id(e.to)}: ${e.label}`);
  for (const [name, state] of machine.states) {
    if (state.terminal === true) lines.push(`  ${id(name)} --> [*]`);
  }
  for (const [name, state] of machine.states) {
    const tasks = state.tasks ?? [];
    if (tasks.length > 0) lines.push(`  note right of ${id(name)}: tasks: ${tasks.join(", ")}`);
  }
  return `${lines.join("\n")}\n`;
}

function dot(machine: Machine, edges: GraphEdge[]): string {
  const q = (text: string) => JSON.stringify(text);
  const lines = [
    `digraph ${q(machine.name)} {`,
    "  rankdir=LR;",
    '  node [shape=box, style=rounded, fontname="Helvetica"];',
    '  edge [fontname="Helvetica"];',
    '  "[*]" [shape=point, width=0.2];',
  ];
  for (const [name, state] of machine.states) {
    const tasks = state.tasks ?? [];
    const label = tasks.length > 0 ? `${name}\\ntasks: ${tasks.join(", ")}` : name;
    const terminal = state.terminal === true ? ", peripheries=2" : "";
    lines.push(`  ${q(name)} [label="${label}"${terminal}];`);
  }
  if (machine.states.has(INIT)) lines.push(`  "[*]" -> ${q(INIT)};`);
  for (const e of edges) lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(e.label)}];`);
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
