import { type Decision, ignored, refused } from "./decision.js";
import { deferEvent, handlerOf, isDefer } from "./deferred.js";
import { applyActions, startDraft, withoutDescription } from "./draft.js";
import { addMs, parseDuration } from "./duration.js";
import { type Context, finish } from "./finish.js";
import type { StateSpec } from "./generated/machine-spec.js";
import type { EngineEvent, Stack } from "./model.js";
import { failAttempt } from "./reports.js";
import { timedOutReason } from "./task-timing.js";
import { describeDue, timersOf, ttlDue } from "./timers.js";

/**
 * TIMER (sent by the tick): fires one of the stack's timers if it is still set as read and due.
 * A timer the stack no longer has (it moved on, a report arrived first) is ignored.
 */
export function fireTimer(ctx: Context, stack: Stack, state: StateSpec): Decision {
  const { event, now } = ctx;
  const timer = event.timer;
  if (!timer) return refused(event, stack.state, "a TIMER event must name its timer and due time");
  const current = timersOf(ctx.machine, stack).find((t) => t.name === timer.name);
  if (!current || current.dueAt !== timer.dueAt) {
    return ignored(
      event,
      stack.state,
      `timer ${timer.name} (due ${timer.dueAt}) is no longer set: the stack changed since`,
    );
  }
  if (Date.parse(current.dueAt) > now.getTime()) {
    return ignored(event, stack.state, `timer ${timer.name} is not due until ${current.dueAt}`);
  }
  const [kind, taskName] = splitName(timer.name);
  const task = stack.tasks.find((t) => t.name === taskName);
  switch (kind) {
    case "timeout":
      if (!task) break;
      return failAttempt(
        ctx,
        stack,
        task,
        "timeout",
        timedOutReason(ctx.machine.tasks.get(task.name), task.dispatchedAt, now),
      );
    case "retry": {
      if (!task) break;
      const draft = startDraft(stack);
      draft.tasks = draft.tasks.map((t) => {
        if (t.name !== task.name) return t;
        const again = withoutDescription({
          ...t,
          status: "PENDING",
          attempt: t.attempt + 1,
          token: ctx.deps.newToken(),
        });
        draft.dispatch.push({ task: again.name, token: again.token, attempt: again.attempt });
        return again;
      });
      const of = ctx.machine.tasks.get(task.name)?.retry?.attempts;
      draft.note = `retried task ${task.name} after its backoff (attempt ${task.attempt + 1}${of ? ` of ${of}` : ""})`;
      return finish(ctx, stack, stack.state, draft);
    }
    case "ttl":
      return fireTtl(ctx, stack, state);
    case "ttl-warning": {
      const due = ttlDue(ctx.machine, stack);
      if (!due) break;
      const draft = startDraft(stack);
      draft.patch.ttlWarnedFor = due.at;
      draft.note = `TTL warning: ${due.ttl.event} ${describeDue(due.at, now)}, ${due.why}`;
      const decision = finish(ctx, stack, stack.state, draft);
      if (decision.outcome === "applied")
        decision.detail.ttl = { event: due.ttl.event, dueAt: due.at, why: due.why };
      return decision;
    }
  }
  return ignored(event, stack.state, `timer ${timer.name} has nothing to act on`);
}

/** The TTL fired: its event's actions apply as if it had been sent (once per due time). */
function fireTtl(ctx: Context, stack: Stack, state: StateSpec): Decision {
  const due = ttlDue(ctx.machine, stack);
  if (!due) return ignored(ctx.event, stack.state, "the stack has no TTL any more");
  const name = due.ttl.event;
  const draft = startDraft(stack);
  draft.patch.ttlFiredFor = due.at;
  const actions = handlerOf(state, name);
  if (isDefer(actions)) {
    // The state keeps the event for later: the TTL's event waits its turn like any other.
    const event: EngineEvent = { name, key: `ttl:${due.at}`, ...(stack.id ? { stackId: stack.id } : {}) };
    draft.patch.deferred = deferEvent(stack, event, ctx.now.toISOString());
    draft.note = `TTL ${due.why}: ${name} deferred in ${stack.state}, applied when the stack enters a state that handles it`;
  } else if (actions === undefined) {
    // Only a state that handles the event arms the TTL; a spec edit could still get here.
    draft.note = `TTL ${due.why}: ${name} is not handled in ${stack.state}, so nothing happens`;
  } else {
    draft.note = `TTL ${due.why}: ${name}`;
    const problem = applyActions(ctx.machine, draft, actions, ctx.deps);
    if (problem) return refused(ctx.event, stack.state, problem);
  }
  const decision = finish(ctx, stack, stack.state, draft);
  if (decision.outcome === "applied") decision.detail.ttl = { event: name, dueAt: due.at, why: due.why };
  return decision;
}

/** EXTEND_TTL: keep the stack `ttl` longer from now, never expire it, or go back to the machine's TTL. */
export function extendTtl(ctx: Context, stack: Stack): Decision {
  const { event, now } = ctx;
  const ttl = event.ttl;
  if (ttl === undefined) {
    return refused(
      event,
      stack.state,
      "EXTEND_TTL needs ttl: a duration from now (like 3d), never, or default",
    );
  }
  const draft = startDraft(stack, event);
  if (ttl === "never") {
    draft.patch.ttl = { exempt: true };
    draft.note = "TTL: this stack never expires (EXTEND_TTL never)";
  } else if (ttl === "default") {
    draft.patch.ttl = null;
    draft.note = "TTL: back to the machine's";
  } else {
    const ms = parseDuration(ttl);
    if (ms === undefined)
      return refused(event, stack.state, `EXTEND_TTL: "${ttl}" is not a duration, never or default`);
    const until = addMs(now, ms);
    draft.patch.ttl = { until };
    draft.note = `TTL: kept at least until ${until}`;
  }
  draft.patch.ttlWarnedFor = null;
  draft.patch.ttlFiredFor = null;
  return finish(ctx, stack, stack.state, draft);
}

function splitName(name: string): [string, string | undefined] {
  const colon = name.indexOf(":");
  return colon < 0 ? [name, undefined] : [name.slice(0, colon), name.slice(colon + 1)];
}
