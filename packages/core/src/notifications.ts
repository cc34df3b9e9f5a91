import type { Decision } from "./decision.js";
import { failureSummary } from "./failure-text.js";
import type { NotificationSpec } from "./generated/machine-spec.js";
import type { Machine } from "./machine.js";
import { type EngineEvent, isReportEvent, type Stack, type StackTask } from "./model.js";

export const NOTIFICATION_KINDS = [
  "task-failed",
  "state-entered",
  "stack-removed",
  "ttl-warning",
  "event-refused",
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** What a notification says; the same for every target (webhooks get it as JSON). */
export interface NotificationBody {
  kind: NotificationKind;
  stackId: string;
  machine: string;
  version?: string;
  /** The stack's state after the event (before it, for a refusal). */
  state: string | null;
  event: { name: string; key: string };
  at: string;
  /** One line a person reads first. */
  summary: string;
  from?: string | null;
  to?: string;
  task?: { name: string; attempt: number; error: string };
  reason?: string;
  ttl?: { event: string; dueAt: string };
}

/** One notification to one target: where to (the spec's target config) and what. */
export interface Notification {
  /** The target's name in the spec, else `notifications[<index>]`. */
  target: string;
  kind: NotificationKind;
  destination: Pick<NotificationSpec, "webhook" | "sns" | "eventbridge">;
  body: NotificationBody;
}

/**
 * The notifications a decision gives rise to, for every target of the machine that asked for
 * them: a task that failed for good (no retry left), each state entered (or the chosen ones), the
 * stack's removal, a TTL warning, a refused event from outside.
 */
export function notificationsFor(
  machine: Machine,
  before: Stack | null,
  event: EngineEvent,
  decision: Decision,
  at: string,
): Notification[] {
  const targets = machine.spec.notifications ?? [];
  if (targets.length === 0) return [];
  const stackId = event.stackId ?? before?.id ?? "(unknown)";
  const base = {
    stackId,
    machine: machine.name,
    event: { name: event.name, key: event.key },
    at,
  };
  const bodies: NotificationBody[] = [];
  if (decision.outcome === "refused") {
    if (!isReportEvent(event.name) && event.name !== "TIMER") {
      bodies.push({
        ...base,
        kind: "event-refused",
        ...(before ? { version: before.version } : {}),
        state: decision.from,
        reason: decision.reason,
        summary: `${stackId}: ${event.name} refused: ${decision.reason}`,
      });
    }
  } else if (decision.outcome === "applied") {
    const after = decision.stack;
    const version = after?.version ?? before?.version;
    const common = { ...base, ...(version ? { version } : {}), state: after?.state ?? null };
    for (const task of failedForGood(before, after)) {
      const error = failureSummary(task.description ?? "");
      bodies.push({
        ...common,
        kind: "task-failed",
        task: { name: task.name, attempt: task.attempt, error },
        summary: `${stackId}: task ${task.name} failed (attempt ${task.attempt}): ${error}`,
      });
    }
    for (const state of decision.path) {
      bodies.push({
        ...common,
        kind: "state-entered",
        from: decision.from,
        to: state,
        summary: `${stackId} entered ${state}`,
      });
    }
    if (decision.removed) {
      bodies.push({
        ...common,
        kind: "stack-removed",
        from: decision.from,
        summary: `${stackId} was removed (${decision.to})`,
      });
    }
    const ttl = decision.detail.ttl as { event: string; dueAt: string } | undefined;
    if (ttl && event.timer?.name === "ttl-warning") {
      bodies.push({
        ...common,
        kind: "ttl-warning",
        ttl: { event: ttl.event, dueAt: ttl.dueAt },
        summary: `${stackId}: ${ttl.event} at ${ttl.dueAt} (TTL)`,
      });
    }
  }
  const out: Notification[] = [];
  targets.forEach((target, i) => {
    const wanted = new Set(target.on);
    for (const body of bodies) {
      if (!wanted.has(body.kind)) continue;
      if (body.kind === "state-entered" && target.states && !target.states.includes(body.to ?? "")) continue;
      const destination: Notification["destination"] = {};
      if (target.webhook) destination.webhook = target.webhook;
      if (target.sns) destination.sns = target.sns;
      if (target.eventbridge) destination.eventbridge = target.eventbridge;
      out.push({ target: target.name ?? `notifications[${i}]`, kind: body.kind, destination, body });
    }
  });
  return out;
}

/** Tasks that went to ERROR with this event and will not be retried by themselves. */
function failedForGood(before: Stack | null, after: Stack | null): StackTask[] {
  if (!after) return [];
  return after.tasks.filter((t) => {
    if (t.status !== "ERROR" || t.retryAt !== undefined) return false;
    const was = before?.tasks.find((b) => b.name === t.name && b.token === t.token);
    return was?.status !== "ERROR";
  });
}

/** The notification as one line of text (Slack's `text`, e-mail subjects). */
export function notificationText(body: NotificationBody): string {
  return `[stackseam] ${body.summary}`;
}
