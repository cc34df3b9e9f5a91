import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ActionSpec, INIT, type Machine, NEXT, parseSpec } from "@stackseam/core";
import type { Rng } from "./random.js";

/** The folder the stress workers load their specs from (a LOCAL_FS machine source). */
export const MACHINE_DIR = fileURLToPath(new URL("../machines/", import.meta.url));
export const MACHINE_NAMES = ["qa-env", "fanout", "tenant", "corners"] as const;

/** The three stress machines, compiled by core exactly as the State Manager compiles them. */
export function loadMachines(): Map<string, Machine> {
  const machines = new Map<string, Machine>();
  for (const name of MACHINE_NAMES) {
    const file = `${MACHINE_DIR}${name}.yml`;
    const { machine, diagnostics } = parseSpec(readFileSync(file, "utf8"), { name, file });
    if (!machine) throw new Error(`${file} is invalid: ${JSON.stringify(diagnostics)}`);
    machines.set(name, machine);
  }
  return machines;
}

/** One step a publisher takes: an event, and whether it starts a new life of the stack. */
export interface PlannedEvent {
  event: string;
  first: boolean;
}

/** Events a state accepts from outside (NEXT is internal). */
export function handledEvents(machine: Machine, state: string): string[] {
  const on = machine.states.get(state)?.on ?? {};
  return Object.keys(on).filter((name) => name !== NEXT);
}

/** Where a stack settles after `actions`, assuming every task succeeds; null once it is removed. */
function settle(machine: Machine, state: string, actions: readonly ActionSpec[]): string | null {
  let current = state;
  let pending: readonly ActionSpec[] = actions;
  for (let hops = 0; hops < 50; hops++) {
    let entered: string | null = null;
    for (const action of pending) {
      if (action.action !== "advance") continue;
      entered = action.state;
      const spec = machine.states.get(entered);
      if (spec?.terminal === true && (spec.tasks ?? []).length === 0) return null;
    }
    if (entered === null) return current;
    current = entered;
    const spec = machine.states.get(current);
    if ((spec?.tasks ?? []).length === 0) return current;
    if (spec?.terminal === true) return null;
    pending = spec?.on?.[NEXT] ?? [];
  }
  throw new Error(`machine ${machine.name} loops through NEXT`);
}

/**
 * A random valid life (or several: a removed stack's id is used again) of one stack: each event
 * is one the stack's settled state handles, walking the machine's own graph.
 */
export function randomLife(machine: Machine, rng: Rng, maxEvents: number): PlannedEvent[] {
  const plan: PlannedEvent[] = [];
  let state: string | null = INIT;
  while (plan.length < maxEvents) {
    if (state === null) {
      if (!rng.chance(0.35)) break;
      state = INIT;
    }
    const options = handledEvents(machine, state);
    if (options.length === 0) break;
    const event = rng.pick(options);
    plan.push({ event, first: state === INIT });
    state = settle(machine, state, machine.states.get(state)?.on?.[event] ?? []);
  }
  return plan;
}
