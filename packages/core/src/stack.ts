import { isoTime } from "./iso-time.js";
import type { Machine } from "./machine.js";
import { type Deps, INIT, type Stack } from "./model.js";

/** A stack as it is before its first event is applied: in INIT, no tasks, entry 0, on the machine's version. */
export function newStack(id: string, machine: Machine, deps: Pick<Deps, "now">): Stack {
  const at = isoTime(deps.now());
  return {
    id,
    machine: machine.name,
    version: machine.version,
    state: INIT,
    metadata: {},
    tasks: [],
    entry: 0,
    createdAt: at,
    updatedAt: at,
  };
}
