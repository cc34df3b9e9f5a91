import { parseDuration } from "./duration.js";
import { isRecord, type PathSegment } from "./paths.js";
import { scheduleProblem } from "./schedule.js";
import { handles, type RuleContext, repeats } from "./spec-rules-context.js";

/** Timeouts, retries, TTLs and schedules: what a schema cannot say about time. */
export function checkTimeRules(ctx: RuleContext): void {
  const { spec, states, tasks } = ctx;
  for (const [name, task] of Object.entries(tasks ?? {})) {
    if (!isRecord(task)) continue;
    const at: PathSegment[] = ["tasks", name];
    for (const key of ["timeout", "heartbeat"] as const) positive(ctx, [...at, key], task[key]);
    const retry = task.retry;
    if (isRecord(retry)) {
      positive(ctx, [...at, "retry", "delay"], retry.delay);
      positive(ctx, [...at, "retry", "maxDelay"], retry.maxDelay);
      const delay = typeof retry.delay === "string" ? parseDuration(retry.delay) : undefined;
      const max = typeof retry.maxDelay === "string" ? parseDuration(retry.maxDelay) : undefined;
      if (delay !== undefined && max !== undefined && max < delay) {
        ctx.error(
          [...at, "retry", "maxDelay"],
          `maxDelay ${String(retry.maxDelay)} is shorter than delay ${String(retry.delay)}`,
        );
      }
      if (Array.isArray(retry.on)) {
        for (const [i, value, first] of repeats(retry.on)) {
          ctx.error([...at, "retry", "on", i], `"${value}" is listed more than once (first as on[${first}])`);
        }
      }
      if (
        Array.isArray(retry.on) &&
        retry.on.includes("timeout") &&
        task.timeout === undefined &&
        task.heartbeat === undefined
      ) {
        ctx.warn(
          [...at, "retry", "on"],
          `retries on timeout never happen: task ${name} has no timeout or heartbeat`,
        );
      }
    }
  }

  if (isRecord(spec.ttl)) {
    checkTtl(ctx, ["ttl"], spec.ttl);
    const event = spec.ttl.event;
    if (
      typeof event === "string" &&
      ctx.events.has(event) &&
      !ctx.stateNames.some((s) => handles(states[s], event))
    ) {
      ctx.warn(
        ["ttl", "event"],
        `the TTL never fires: no state handles ${event}, and it applies only in states that do`,
      );
    }
  }
  for (const name of ctx.stateNames) {
    const state = states[name];
    if (!isRecord(state) || !isRecord(state.ttl)) continue;
    checkTtl(ctx, ["states", name, "ttl"], state.ttl);
    const event = state.ttl.event;
    if (typeof event === "string" && ctx.events.has(event) && !handles(state, event)) {
      ctx.error(
        ["states", name, "ttl", "event"],
        `${name} does not handle ${event}, so its TTL could never move the stack: add on.${event}`,
      );
    }
  }

  const schedules = Array.isArray(spec.schedules) ? spec.schedules : [];
  const names = new Map<string, number>();
  schedules.forEach((schedule, i) => {
    if (!isRecord(schedule)) return;
    const at: PathSegment[] = ["schedules", i];
    const name = typeof schedule.name === "string" ? schedule.name : `schedule-${i + 1}`;
    const first = names.get(name);
    if (first !== undefined)
      ctx.error(
        [...at, "name"],
        `schedule "${name}" is defined more than once (first as schedules[${first}])`,
      );
    names.set(name, i);
    if (typeof schedule.cron === "string") {
      const problem = scheduleProblem(
        schedule.cron,
        typeof schedule.timezone === "string" ? schedule.timezone : undefined,
      );
      if (problem) ctx.error([...at, problem.includes("time zone") ? "timezone" : "cron"], problem);
    }
    const event = schedule.event;
    knownEvent(ctx, [...at, "event"], event);
    if (!Array.isArray(schedule.states)) return;
    schedule.states.forEach((state, j) => {
      if (typeof state !== "string") return;
      if (!Object.hasOwn(states, state)) {
        ctx.error(
          [...at, "states", j],
          `"${state}" is not a state of this machine (states: ${ctx.stateNames.join(", ")})`,
        );
      } else if (typeof event === "string" && !handles(states[state], event)) {
        ctx.warn(
          [...at, "states", j],
          `${state} does not handle ${event}: the schedule's event is refused for stacks there`,
        );
      }
    });
  });
}

function checkTtl(ctx: RuleContext, at: PathSegment[], ttl: Record<string, unknown>): void {
  if (ttl.idle === undefined && ttl.age === undefined) {
    ctx.error(at, "a TTL needs idle, age or both: how long a stack may sit unused, or live at all", true);
  }
  for (const key of ["idle", "age", "warn"]) positive(ctx, [...at, key], ttl[key]);
  knownEvent(ctx, [...at, "event"], ttl.event);
  const warn = typeof ttl.warn === "string" ? parseDuration(ttl.warn) : undefined;
  const limits = ["idle", "age"]
    .map((k) => (typeof ttl[k] === "string" ? parseDuration(ttl[k] as string) : undefined))
    .filter((v): v is number => v !== undefined);
  if (warn !== undefined && limits.length > 0 && warn >= Math.min(...limits)) {
    ctx.error(
      [...at, "warn"],
      `warn ${String(ttl.warn)} is not shorter than the TTL itself, so the warning would come at once`,
    );
  }
}

function positive(ctx: RuleContext, path: PathSegment[], value: unknown): void {
  if (typeof value === "string" && parseDuration(value) === 0) ctx.error(path, "must be longer than 0");
}

function knownEvent(ctx: RuleContext, path: PathSegment[], event: unknown): void {
  if (typeof event === "string" && !ctx.events.has(event)) {
    ctx.error(
      path,
      `"${event}" is not an event of this machine (events: ${[...ctx.events].join(", ") || "none"})`,
    );
  }
}
