// What a person can do to a stack from the dashboard, and the event each action sends.
import { createHash } from "node:crypto";
import type { EventMessage, Machine, Stack } from "@stackseam/core";

export const ACTION_KINDS = ["retry-failed", "retry-pending", "destroy", "event"] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** An action offered on a stack's page. */
export interface Offer {
  kind: ActionKind;
  event: string;
  label: string;
  /** Destroying needs the stack id typed to confirm. */
  danger: boolean;
}

/** The event the destroy action sends, when the current state handles it. */
export const DESTROY_EVENT = "DESTROY";

/** Every event key sent by the dashboard starts with this, so its history rows say where they came from. */
export const DASHBOARD_KEY_PREFIX = "dashboard-";

export function isActionKind(value: string): value is ActionKind {
  return (ACTION_KINDS as readonly string[]).includes(value);
}

/**
 * What the stack's current state lets a person do: retry failed or pending tasks, destroy (the
 * machine's DESTROY event), or send any other event the state handles. NEXT is internal.
 */
export function offeredActions(stack: Stack, machine: Machine | null): Offer[] {
  const offers: Offer[] = [];
  if (stack.tasks.some((t) => t.status === "ERROR"))
    offers.push({
      kind: "retry-failed",
      event: "RETRY_FAILED_TASKS",
      label: "Retry failed tasks",
      danger: false,
    });
  if (stack.tasks.some((t) => t.status === "PENDING"))
    offers.push({
      kind: "retry-pending",
      event: "RETRY_PENDING_TASKS",
      label: "Retry pending tasks",
      danger: false,
    });
  const handled = Object.keys(machine?.states.get(stack.state)?.on ?? {}).filter((e) => e !== "NEXT");
  for (const event of handled) {
    if (event === DESTROY_EVENT) offers.push({ kind: "destroy", event, label: "Destroy", danger: true });
    else offers.push({ kind: "event", event, label: `Send ${event}`, danger: false });
  }
  return offers;
}

/** The offer matching a request, or null when the stack's state does not offer it (any more). */
export function findOffer(
  offers: readonly Offer[],
  kind: ActionKind,
  event: string | undefined,
): Offer | null {
  return offers.find((o) => o.kind === kind && (kind !== "event" || o.event === event)) ?? null;
}

/**
 * The event key of a confirmed action: derived from the stack, the event and the newest history
 * row the person saw when confirming. A double click, a resubmitted form or a second tab confirming
 * the same thing send the same key, and the State Manager applies a key once.
 */
export function dashboardEventId(stackId: string, event: string, seen: number): string {
  const digest = createHash("sha256").update(`${stackId}\u0000${event}\u0000${seen}`).digest("hex");
  return `${DASHBOARD_KEY_PREFIX}${event.toLowerCase().replaceAll("_", "-")}-${digest.slice(0, 20)}`;
}

/** The event message an offer sends. */
export function actionMessage(stackId: string, offer: Offer, seen: number): EventMessage {
  return { stackId, event: offer.event, eventId: dashboardEventId(stackId, offer.event, seen) };
}

/** Publishes an event to the event queue (the CLI's `send` path); a refusal is data. */
export type Publisher = (
  message: EventMessage,
) => Promise<{ ok: true; messageId: string } | { ok: false; reason: string }>;
