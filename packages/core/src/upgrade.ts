import { type Decision, ignored, refused } from "./decision.js";
import { startDraft } from "./draft.js";
import { type Context, finish } from "./finish.js";
import type { Machine } from "./machine.js";
import type { Stack } from "./model.js";

/**
 * Why `stack`, as it is now, cannot run version `to` of its machine (empty: it can). It can when
 * its state exists there and every task it holds is still defined, so each event the new state
 * declares and each report it waits for means something under the new version.
 */
export function upgradeProblems(stack: Stack, to: Machine): string[] {
  if (to.name !== stack.machine)
    return [`version ${to.version} is of machine ${to.name}, not ${stack.machine}`];
  const problems: string[] = [];
  if (!to.states.has(stack.state)) {
    problems.push(
      `state ${stack.state} does not exist in version ${to.version} (states: ${[...to.states.keys()].join(", ")})`,
    );
  }
  for (const task of stack.tasks) {
    if (!to.tasks.has(task.name)) {
      problems.push(`task ${task.name} (${task.status}) is not defined in version ${to.version}`);
    }
  }
  for (const kept of stack.deferred ?? []) {
    if (!to.events.has(kept.name)) {
      problems.push(`deferred event ${kept.name} is not an event of version ${to.version}`);
    }
  }
  return problems;
}

/** Whether the newest version asks running stacks to move to it when they next enter a state. */
export function upgradesOnEntry(stack: Stack, latest: Machine | undefined): latest is Machine {
  return latest !== undefined && latest.version !== stack.version && latest.spec.upgrade === "on-state-entry";
}

/** UPGRADE_MACHINE: the stack moves to the newest version, unless it already runs it or cannot. */
export function upgradeStack(
  ctx: Pick<Context, "event" | "deps" | "now">,
  stack: Stack,
  latest: Machine | undefined,
): Decision {
  const { event } = ctx;
  if (latest === undefined) {
    return refused(
      event,
      stack.state,
      `machine ${stack.machine} could not be loaded, so there is no version to upgrade to`,
    );
  }
  if (latest.version === stack.version) {
    return ignored(
      event,
      stack.state,
      `stack ${stack.id} already runs version ${latest.version} of machine ${stack.machine}`,
    );
  }
  const problems = upgradeProblems(stack, latest);
  if (problems.length > 0) {
    return refused(
      event,
      stack.state,
      `stack ${stack.id} cannot move from version ${stack.version} to ${latest.version}: ${problems.join("; ")}`,
    );
  }
  const draft = startDraft(stack, event);
  draft.version = latest.version;
  draft.note = `upgraded from version ${stack.version} to ${latest.version}`;
  const decision = finish({ ...ctx, machine: latest }, stack, stack.state, draft);
  decision.detail.upgraded = { from: stack.version, to: latest.version };
  return decision;
}
