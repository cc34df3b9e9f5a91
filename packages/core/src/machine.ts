import type { MachineSpec, StateSpec, TaskSpec } from "./generated/machine-spec.js";
import { machineVersion } from "./machine-version.js";

/** A validated machine, indexed for `transition`. Build it with `parseSpec`. */
export interface Machine {
  /** The spec file name without .yml/.yaml. */
  name: string;
  /** The content version: a hash of the spec as the engine reads it (see machineVersion). */
  version: string;
  spec: MachineSpec;
  events: ReadonlySet<string>;
  states: ReadonlyMap<string, StateSpec>;
  tasks: ReadonlyMap<string, TaskSpec>;
  /** Names of the terminal states, for quick checks and drawing. */
  terminals: ReadonlySet<string>;
  /** Where the spec came from, when known. */
  file?: string;
  /** The spec's text, when it was parsed from text (stored with its version). */
  source?: string;
}

/** Indexes an already validated spec; `parseSpec` is the way in for untrusted text. */
export function compileMachine(name: string, spec: MachineSpec, file?: string): Machine {
  const states = new Map(Object.entries(spec.states));
  const machine: Machine = {
    name,
    version: machineVersion(spec),
    spec,
    events: new Set(spec.events),
    states,
    tasks: new Map(Object.entries(spec.tasks ?? {})),
    terminals: new Set(
      [...states].filter(([, state]) => state.terminal === true).map(([stateName]) => stateName),
    ),
  };
  if (file !== undefined) machine.file = file;
  return machine;
}
