// Publishing one event to the event queue: what `stackseam send` does after parsing its flags,
// shared with the dashboard's actions so both validate and send alike.
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type EventMessage, parseEventMessage } from "@stackseam/core";
import type { Connection } from "./connection.js";

/** The outcome of one publish: the SQS message id, or why nothing was sent. */
export type PublishResult = { ok: true; messageId: string } | { ok: false; reason: string };

/** Sends validated event messages to one queue; `close` releases the SQS client. */
export interface EventPublisher {
  queueUrl: string;
  publish(message: EventMessage): Promise<PublishResult>;
  close(): void;
}

/** Why a message must not be sent (invalid as the State Manager would find it, or NEXT), else null. */
export function refuseEvent(message: EventMessage, origin: string): string | null {
  const checked = parseEventMessage(JSON.stringify(message), origin);
  if (!checked.ok) return `invalid event message: ${checked.reason}`;
  if (message.event === "NEXT")
    return "NEXT is internal: the engine fires it when a state's tasks are satisfied";
  return null;
}

/** An SQS client for the connection's endpoint, region and (dev) credentials, as `send` builds it. */
export function sqsClientFor(conn: Connection): SQSClient {
  return new SQSClient({
    ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
    ...(conn.region ? { region: conn.region } : {}),
    ...(conn.credentials ? { credentials: conn.credentials } : {}),
  });
}

/** A publisher for the connection's event queue, or null when it has none. */
export function eventPublisher(conn: Connection, origin = "stackseam-send"): EventPublisher | null {
  const queueUrl = conn.eventQueueUrl;
  if (!queueUrl) return null;
  const sqs = sqsClientFor(conn);
  return {
    queueUrl,
    async publish(message) {
      const refused = refuseEvent(message, origin);
      if (refused) return { ok: false, reason: refused };
      try {
        const res = await sqs.send(
          new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }),
        );
        return { ok: true, messageId: res.MessageId ?? "" };
      } catch (err) {
        return { ok: false, reason: `could not send to ${queueUrl}: ${(err as Error).message}` };
      }
    },
    close: () => sqs.destroy(),
  };
}
