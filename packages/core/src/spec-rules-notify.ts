import { isRecord, type PathSegment } from "./paths.js";
import { type RuleContext, repeats } from "./spec-rules-context.js";

const TARGETS = ["webhook", "sns", "eventbridge"] as const;

/** Notifications: exactly one target each, known states, no repeats. */
export function checkNotifyRules(ctx: RuleContext): void {
  const list = Array.isArray(ctx.spec.notifications) ? ctx.spec.notifications : [];
  const names = new Map<string, number>();
  list.forEach((n, i) => {
    if (!isRecord(n)) return;
    const at: PathSegment[] = ["notifications", i];
    const targets = TARGETS.filter((t) => n[t] !== undefined);
    if (targets.length !== 1) {
      ctx.error(
        at,
        targets.length === 0
          ? "a notification needs a target: webhook, sns or eventbridge"
          : `a notification has one target, this one has ${targets.join(" and ")}: split it in two`,
        true,
      );
    }
    if (typeof n.name === "string") {
      const first = names.get(n.name);
      if (first !== undefined)
        ctx.error(
          [...at, "name"],
          `notification "${n.name}" is defined more than once (first as notifications[${first}])`,
        );
      names.set(n.name, i);
    }
    if (Array.isArray(n.on)) {
      for (const [j, value, first] of repeats(n.on))
        ctx.error([...at, "on", j], `"${value}" is listed more than once (first as on[${first}])`);
    }
    if (Array.isArray(n.states)) {
      n.states.forEach((state, j) => {
        if (typeof state === "string" && !Object.hasOwn(ctx.states, state)) {
          ctx.error(
            [...at, "states", j],
            `"${state}" is not a state of this machine (states: ${ctx.stateNames.join(", ")})`,
          );
        }
      });
      if (Array.isArray(n.on) && !n.on.includes("state-entered")) {
        ctx.warn(
          [...at, "states"],
          "states only narrows state-entered, which this notification does not include",
        );
      }
    }
  });
}
