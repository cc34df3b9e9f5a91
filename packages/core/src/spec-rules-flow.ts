import { NEXT } from "./model.js";
import { isRecord, type PathSegment } from "./paths.js";
import { handles, type RuleContext, reachableFrom } from "./spec-rules-context.js";
import { closest } from "./suggest.js";

/** Deferred events and task inputs: rules about what runs before what. */
export function checkFlowRules(ctx: RuleContext): void {
  checkDefers(ctx);
  checkInputs(ctx);
}

function checkDefers(ctx: RuleContext): void {
  for (const name of ctx.stateNames) {
    const state = ctx.states[name];
    if (!isRecord(state) || !isRecord(state.on)) continue;
    for (const [event, actions] of Object.entries(state.on)) {
      if (!Array.isArray(actions)) continue;
      const at = actions.findIndex((a) => isRecord(a) && a.action === "defer");
      if (at < 0) continue;
      const path: PathSegment[] = ["states", name, "on", event, at];
      if (event === NEXT) {
        ctx.error(path, "NEXT cannot be deferred: the engine fires it when the state's tasks are satisfied");
      } else if (actions.length > 1) {
        ctx.error(path, "defer must be the only action of its handler: a deferred event does nothing now");
      } else if (
        !ctx.stateNames.some(
          (s) =>
            s !== name && reachableFrom(ctx.edges, name).has(s) && handlesNotDefers(ctx.states[s], event),
        )
      ) {
        ctx.warn(
          path,
          `no state reachable from ${name} handles ${event}, so a deferred ${event} is refused when it is offered again`,
        );
      }
    }
  }
}

function handlesNotDefers(state: unknown, event: string): boolean {
  if (!handles(state, event)) return false;
  const actions = (state as { on: Record<string, unknown> }).on[event];
  return !(Array.isArray(actions) && actions.some((a) => isRecord(a) && a.action === "defer"));
}

/** Each input names `<task>.<output>` of a task that runs in an earlier state. */
function checkInputs(ctx: RuleContext): void {
  const taskNames = Object.keys(ctx.tasks ?? {});
  const statesRunning = (task: string) =>
    ctx.stateNames.filter((s) => {
      const state = ctx.states[s];
      return isRecord(state) && Array.isArray(state.tasks) && state.tasks.includes(task);
    });
  for (const [name, task] of Object.entries(ctx.tasks ?? {})) {
    if (!isRecord(task) || !isRecord(task.inputs)) continue;
    for (const [input, ref] of Object.entries(task.inputs)) {
      if (typeof ref !== "string") continue;
      const dot = ref.lastIndexOf(".");
      if (dot <= 0) continue;
      const source = ref.slice(0, dot);
      const path: PathSegment[] = ["tasks", name, "inputs", input];
      if (!taskNames.includes(source)) {
        const near = closest(source, taskNames);
        ctx.error(
          path,
          `task "${source}" is not defined (tasks: ${taskNames.join(", ")})${near ? `; did you mean "${near}"?` : ""}`,
        );
        continue;
      }
      if (source === name) {
        ctx.error(path, `a task cannot take an input from its own outputs`);
        continue;
      }
      const producers = statesRunning(source);
      if (producers.length === 0) {
        ctx.error(path, `task ${source} is not run by any state, so ${ref} never has a value`);
        continue;
      }
      for (const consumer of statesRunning(name)) {
        const before = producers.some((p) => p !== consumer && reachableFrom(ctx.edges, p).has(consumer));
        if (!before) {
          ctx.error(
            path,
            producers.includes(consumer)
              ? `task ${source} runs at the same time as ${name} (both in ${consumer}), not before it`
              : `task ${source} does not run before ${name}: no state that runs it leads to ${consumer}`,
          );
        }
      }
    }
  }
}
