import { type Decision, ignored, refused } from "./decision.js";
import { applyActions, startDraft, withoutDescription } from "./draft.js";
import { formatDuration } from "./duration.js";
import { type Context, finish } from "./finish.js";
import type { StateSpec } from "./generated/machine-spec.js";
import { isoTime } from "./iso-time.js";
import { NEXT, type Stack, type StackTask } from "./model.js";
import { changedOutputs, outputsProblem, withOutputs } from "./outputs.js";
import { attemptDeadline, retryAt as nextRetry } from "./task-timing.js";

/** The task a report is about, or the decision when the report does not count. */
type Lookup = { task: StackTask } | { decision: Decision };

/** Finds the task a report names; a report for another dispatch or state is stale. */
function currentTask(ctx: Context, stack: Stack): Lookup {
  const { event } = ctx;
  if (event.task === undefined || event.token === undefined) {
    return {
      decision: refused(event, stack.state, `a ${event.name} report must name its task and dispatch token`),
    };
  }
  const task = stack.tasks.find((t) => t.name === event.task);
  if (!task) {
    return {
      decision: ignored(
        event,
        stack.state,
        `stale report: ${event.task} is not a task of state ${stack.state} (the stack has moved on)`,
      ),
    };
  }
  if (task.token !== event.token) {
    return {
      decision: ignored(
        event,
        stack.state,
        `stale report: token ${event.token} belongs to an earlier dispatch of task ${task.name} (current attempt: ${task.attempt})`,
      ),
    };
  }
  return { task };
}

/** TASK_COMPLETED: the task is satisfied; when all are, NEXT fires (or a terminal state removes the stack). */
export function completeTask(ctx: Context, stack: Stack, state: StateSpec): Decision {
  const decision = satisfy(ctx, stack, state);
  if (decision.outcome === "applied" && ctx.event.outputs !== undefined && ctx.event.task !== undefined) {
    const kept = keepOutputs(ctx, stack, ctx.event.task);
    if (kept.problem) decision.detail.outputsProblem = kept.problem;
    else decision.detail.outputsChanged = changedOutputs(stack.outputs?.[ctx.event.task], ctx.event.outputs);
  }
  return decision;
}

/** The stack's outputs with the report's, or why the report's cannot be kept. */
function keepOutputs(
  ctx: Context,
  stack: Stack,
  task: string,
): { outputs?: NonNullable<Stack["outputs"]>; problem?: string } {
  const outputs = ctx.event.outputs;
  if (outputs === undefined) return {};
  const problem = outputsProblem(outputs);
  return problem ? { problem } : { outputs: withOutputs(stack, task, outputs) };
}

function satisfy(ctx: Context, stack: Stack, state: StateSpec): Decision {
  const found = currentTask(ctx, stack);
  if ("decision" in found) return found.decision;
  const { task } = found;
  if (task.status === "SATISFIED") {
    return ignored(ctx.event, stack.state, `duplicate report: task ${task.name} is already satisfied`);
  }
  const draft = startDraft(stack);
  const at = isoTime(ctx.now);
  draft.tasks = draft.tasks.map((t) =>
    t.name === task.name ? withoutDescription({ ...t, status: "SATISFIED", finishedAt: at }) : t,
  );
  const kept = keepOutputs(ctx, stack, task.name);
  if (kept.outputs) draft.patch.outputs = kept.outputs;
  const done = draft.tasks.filter((t) => t.status === "SATISFIED").length;
  if (done < draft.tasks.length) {
    draft.note = `task ${task.name} satisfied (${done} of ${draft.tasks.length})`;
    return finish(ctx, stack, stack.state, draft);
  }
  const all = `all ${draft.tasks.length} task${draft.tasks.length === 1 ? "" : "s"} of ${stack.state} satisfied`;
  if (state.terminal === true) {
    draft.removed = true;
    draft.note = `${all}: terminal state, stack removed`;
    return finish(ctx, stack, stack.state, draft);
  }
  const next = state.on !== undefined && Object.hasOwn(state.on, NEXT) ? state.on[NEXT] : undefined;
  if (next === undefined) {
    // A valid spec always has NEXT here; without it the stack simply stays, satisfied.
    draft.note = `${all}, but ${stack.state} has no NEXT handler`;
    return finish(ctx, stack, stack.state, draft);
  }
  draft.note = `NEXT fired: ${all}`;
  const problem = applyActions(ctx.machine, draft, next, ctx.deps);
  if (problem) return refused(ctx.event, stack.state, problem);
  return finish(ctx, stack, stack.state, draft);
}

/** TASK_ERROR: a pending task fails with its description; the stack waits for a retry or another event. */
export function failTask(ctx: Context, stack: Stack): Decision {
  const found = currentTask(ctx, stack);
  if ("decision" in found) return found.decision;
  const { task } = found;
  if (task.status !== "PENDING") {
    const already = task.status === "ERROR" ? "has already failed" : "is already satisfied";
    return ignored(ctx.event, stack.state, `duplicate report: task ${task.name} ${already}`);
  }
  return failAttempt(
    ctx,
    stack,
    task,
    "error",
    ctx.event.description ?? "the task failed without a description",
  );
}

/**
 * The current attempt of a pending task failed (its report said so, or it timed out): the task is
 * ERROR with the description, and is retried after its backoff when its policy has attempts left.
 */
export function failAttempt(
  ctx: Context,
  stack: Stack,
  task: StackTask,
  kind: "error" | "timeout",
  description: string,
): Decision {
  const draft = startDraft(stack);
  const at = isoTime(ctx.now);
  const spec = ctx.machine.tasks.get(task.name);
  const retryAt = nextRetry(spec, task.attempt, kind, ctx.now, ctx.deps.random?.() ?? 1);
  draft.tasks = draft.tasks.map((t) => {
    if (t.name !== task.name) return t;
    const failed: StackTask = { ...withoutDescription(t), status: "ERROR", description, finishedAt: at };
    if (retryAt !== undefined) failed.retryAt = retryAt;
    return failed;
  });
  const what = kind === "timeout" ? "timed out" : "failed";
  const of = spec?.retry ? ` of ${spec.retry.attempts}` : "";
  draft.note =
    retryAt !== undefined
      ? `task ${task.name} ${what} (attempt ${task.attempt}${of}); retry in ${formatDuration(Date.parse(retryAt) - ctx.now.getTime())}`
      : `task ${task.name} ${what} (attempt ${task.attempt}${of}); the stack waits for RETRY_FAILED_TASKS or another event`;
  const decision = finish(ctx, stack, stack.state, draft);
  if (decision.outcome === "applied" && retryAt !== undefined) decision.detail.retryAt = retryAt;
  return decision;
}

/** TASK_HEARTBEAT: the running attempt is alive, which pushes its deadline. */
export function heartbeat(ctx: Context, stack: Stack): Decision {
  const found = currentTask(ctx, stack);
  if ("decision" in found) return found.decision;
  const { task } = found;
  if (task.status !== "PENDING") {
    return ignored(
      ctx.event,
      stack.state,
      `heartbeat for task ${task.name}, which is not running (${task.status})`,
    );
  }
  const draft = startDraft(stack);
  const deadline = attemptDeadline(
    ctx.machine.tasks.get(task.name),
    task.dispatchedAt ?? ctx.now.toISOString(),
    ctx.now,
    true,
  );
  draft.tasks = draft.tasks.map((t) => {
    if (t.name !== task.name) return t;
    const beat: StackTask = { ...t };
    if (deadline !== undefined) beat.deadline = deadline;
    return beat;
  });
  draft.note = deadline
    ? `heartbeat from task ${task.name}: deadline ${deadline}`
    : `heartbeat from task ${task.name} (it has no timeout)`;
  return finish(ctx, stack, stack.state, draft);
}

/** RETRY_FAILED_TASKS / RETRY_PENDING_TASKS: re-dispatch every task in `status` with attempt + 1 and a new token. */
export function retryTasks(ctx: Context, stack: Stack, status: "ERROR" | "PENDING"): Decision {
  const which = status === "ERROR" ? "failed" : "pending";
  if (!stack.tasks.some((t) => t.status === status)) {
    return ignored(ctx.event, stack.state, `no ${which} tasks to retry in state ${stack.state}`);
  }
  const draft = startDraft(stack, ctx.event);
  draft.tasks = draft.tasks.map((t) => {
    if (t.status !== status) return t;
    const again = withoutDescription({
      ...t,
      status: "PENDING",
      attempt: t.attempt + 1,
      token: ctx.deps.newToken(),
    });
    draft.dispatch.push({ task: again.name, token: again.token, attempt: again.attempt });
    return again;
  });
  draft.note = `re-sent ${draft.dispatch.length} ${which} task${draft.dispatch.length === 1 ? "" : "s"}`;
  return finish(ctx, stack, stack.state, draft);
}
