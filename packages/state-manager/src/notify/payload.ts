// What a target receives: core's NotificationBody with the notification's id and attempt number.
import { type NotificationBody, notificationText } from "@stackseam/core";

/** The JSON every target gets (webhooks in the json format, SNS messages, EventBridge details). */
export type NotificationPayload = { id: string; attempt: number } & NotificationBody;

/** The payload of one attempt: the id stays the same across attempts, so receivers can deduplicate. */
export function notificationPayload(
  id: string,
  attempt: number,
  body: NotificationBody,
): NotificationPayload {
  // The body comes back from jsonb with its keys reordered: the reader's first fields first again.
  const { kind, stackId, machine, ...rest } = body;
  return { id, attempt, kind, stackId, machine, ...rest };
}

/**
 * A Slack-compatible message (`{"text": …}`, which Slack, Mattermost, Rocket.Chat and Teams'
 * Slack-compatible connectors accept). `&`, `<` and `>` are escaped as Slack asks, so a stack id
 * or a task's error text cannot turn into a link or an @channel mention.
 */
export function slackMessage(body: NotificationBody): { text: string } {
  const escaped = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return { text: escaped(notificationText(body)) };
}
