import { STATE_NAME as NAME, TASK_NAME } from "./generated/patterns.js";
import { INIT, NEXT, type Severity, SYSTEM_EVENTS } from "./model.js";
import { isRecord, type PathSegment } from "./paths.js";
import type { RuleContext } from "./spec-rules-context.js";
import { checkFlowRules } from "./spec-rules-flow.js";
import { checkNotifyRules } from "./spec-rules-notify.js";
import { checkTimeRules } from "./spec-rules-time.js";
import { closest } from "./suggest.js";

/** A semantic problem of a spec (see docs/spec-reference.md, Rules), positioned by path like a schema issue. */
export interface RuleIssue {
  severity: Severity;
  path: PathSegment[];
  message: string;
  atKey: boolean;
}

/**
 * Checks the rules a schema cannot express. Works on whatever shape the value has, so that every
 * problem is reported in one pass even when the schema also failed.
 */
export function checkSpecRules(value: unknown): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const error = (path: PathSegment[], message: string, atKey = false) =>
    issues.push({ severity: "error", path, message, atKey });
  const warn = (path: PathSegment[], message: string, atKey = false) =>
    issues.push({ severity: "warning", path, message, atKey });

  const spec = isRecord(value) ? value : {};
  const eventList = Array.isArray(spec.events) ? spec.events : [];
  const events = new Set<string>();
  eventList.forEach((event, i) => {
    if (typeof event !== "string") return;
    if (event === NEXT) {
      error(
        ["events", i],
        "NEXT cannot be declared: the engine fires it itself when a state's tasks are all satisfied",
      );
    } else if (events.has(event)) {
      error(
        ["events", i],
        `event "${event}" is listed more than once (first as events[${eventList.indexOf(event)}])`,
      );
    }
    events.add(event);
  });
  events.delete(NEXT);

  const tasks = isRecord(spec.tasks) ? spec.tasks : undefined;
  const taskNames = Object.keys(tasks ?? {});
  if (!isRecord(spec.states)) return issues;
  const states = spec.states;
  const stateNames = Object.keys(states);

  if (!Object.hasOwn(states, INIT)) {
    error(["states"], `there is no INIT state: every stack starts in INIT${hint(INIT, stateNames)}`, true);
  }
  if (!stateNames.some((name) => isRecord(states[name]) && states[name].terminal === true)) {
    error(
      ["states"],
      `no state is terminal: mark at least one state "terminal: true" so that stacks can finish`,
      true,
    );
  }

  const usedTasks = new Set<string>();
  const handledEvents = new Set<string>();
  const edges = new Map<string, Set<string>>();
  for (const name of stateNames) {
    const state = states[name];
    if (!isRecord(state)) continue;
    const at: PathSegment[] = ["states", name];
    const terminal = state.terminal === true;
    const stateTasks = Array.isArray(state.tasks) ? state.tasks : [];
    const on = isRecord(state.on) ? state.on : {};
    const targets = new Set<string>();
    edges.set(name, targets);

    const listed = new Set<string>();
    stateTasks.forEach((task, i) => {
      if (typeof task !== "string" || !TASK_NAME.test(task)) return;
      usedTasks.add(task);
      if (listed.has(task)) {
        error([...at, "tasks", i], `task "${task}" is listed more than once in ${name}`);
      } else if (!tasks || !Object.hasOwn(tasks, task)) {
        error(
          [...at, "tasks", i],
          tasks
            ? `task "${task}" is not defined under tasks (tasks: ${list(taskNames)})${hint(task, taskNames)}`
            : `task "${task}" is not defined: the spec has no tasks section`,
        );
      }
      listed.add(task);
    });

    // NEXT only fires in a non-terminal state with tasks; elsewhere its advances are not edges.
    const nextFires = !terminal && stateTasks.length > 0;
    for (const [event, actions] of Object.entries(on)) {
      if (event === NEXT) {
        // handled below
      } else if ((SYSTEM_EVENTS as readonly string[]).includes(event)) {
        error(
          [...at, "on", event],
          `${event} is a system event: the engine handles it, so a state cannot`,
          true,
        );
      } else if (!events.has(event)) {
        error(
          [...at, "on", event],
          `"${event}" is not an event of this machine (events: ${list([...events])})${hint(event, events)}`,
          true,
        );
      } else {
        handledEvents.add(event);
      }
      if (!Array.isArray(actions)) continue;
      actions.forEach((action, i) => {
        if (!isRecord(action) || action.action !== "advance" || typeof action.state !== "string") return;
        if (!NAME.test(action.state)) return;
        if (Object.hasOwn(states, action.state)) {
          if (event !== NEXT || nextFires) targets.add(action.state);
        } else {
          error(
            [...at, "on", event, i, "state"],
            `"${action.state}" is not a state of this machine (states: ${list(stateNames)})${hint(action.state, stateNames)}`,
          );
        }
      });
    }

    const hasNext = Object.hasOwn(on, NEXT);
    if (!terminal && stateTasks.length > 0 && !hasNext) {
      error(
        at,
        `${name} has tasks but no NEXT handler: add on.NEXT to say where a stack goes once the tasks are satisfied (or mark the state terminal)`,
        true,
      );
    }
    if (hasNext && terminal) {
      warn(
        [...at, "on", NEXT],
        `NEXT never fires in a terminal state: the stack is removed once ${name}'s tasks are satisfied`,
        true,
      );
    } else if (hasNext && stateTasks.length === 0) {
      warn(
        [...at, "on", NEXT],
        `NEXT never fires here: ${name} has no tasks, and NEXT fires only when every task of a state is satisfied`,
        true,
      );
    }
    if (terminal && stateTasks.length === 0 && Object.keys(on).some((event) => event !== NEXT)) {
      warn(
        [...at, "on"],
        `${name} is terminal and has no tasks, so a stack entering it is removed at once and these handlers never run`,
        true,
      );
    }
    if (name === INIT && stateTasks.length > 0) {
      warn(
        [...at, "tasks"],
        "a new stack is created in INIT without dispatching INIT's tasks; they run only when a stack advances back into INIT",
        true,
      );
    }
  }

  for (const name of stateNames) {
    const state = states[name];
    if (!isRecord(state) || state.terminal === true) continue;
    const leaves = [...(edges.get(name) ?? [])].some((target) => target !== name);
    if (!leaves) {
      warn(
        ["states", name],
        `${name} can never be left: no handler advances to another state, so a stack that enters it stays there`,
        true,
      );
    }
  }

  if (Object.hasOwn(states, INIT)) {
    const reached = new Set<string>([INIT]);
    const queue = [INIT];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      for (const target of edges.get(current) ?? []) {
        if (!reached.has(target)) {
          reached.add(target);
          queue.push(target);
        }
      }
    }
    for (const name of stateNames) {
      if (!reached.has(name)) {
        warn(["states", name], `${name} is unreachable: no chain of handlers from INIT advances to it`, true);
      }
    }
  }

  eventList.forEach((event, i) => {
    if (
      typeof event === "string" &&
      event !== NEXT &&
      !handledEvents.has(event) &&
      eventList.indexOf(event) === i
    ) {
      warn(["events", i], `event "${event}" is declared but no state handles it`);
    }
  });
  for (const task of taskNames) {
    if (!usedTasks.has(task)) warn(["tasks", task], `task "${task}" is not used by any state`, true);
  }
  const ctx: RuleContext = { spec, events, states, stateNames, tasks, edges, error, warn };
  checkTimeRules(ctx);
  checkFlowRules(ctx);
  checkNotifyRules(ctx);
  return issues;
}

// Enough names to spot a typo by eye; a message listing thousands would be megabytes, once per error.
const LISTED = 20;

function list(names: readonly string[]): string {
  if (names.length === 0) return "none";
  if (names.length <= LISTED) return names.join(", ");
  return `${names.slice(0, LISTED).join(", ")}, … (${names.length} in all)`;
}

function hint(word: string, candidates: Iterable<string>): string {
  const match = closest(word, candidates);
  return match === undefined ? "" : `; did you mean "${match}"?`;
}
