// An SNS target: one Publish per attempt. The message is the JSON payload, the subject its summary
// line, and kind / stack / machine travel as message attributes (for subscription filter policies).
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { notificationText } from "@stackseam/core";
import { type Delivery, fromSdkError, sent } from "./outcome.js";
import type { NotificationPayload } from "./payload.js";

export interface SnsRequest {
  topicArn: string;
  payload: NotificationPayload;
  timeoutMs: number;
}

// SNS subjects: at most 100 printable ASCII characters, no line breaks.
const MAX_SUBJECT = 100;

/** Publishes one notification; never throws. */
export async function deliverSns(client: SNSClient, req: SnsRequest): Promise<Delivery> {
  const p = req.payload;
  const fifo = req.topicArn.endsWith(".fifo");
  const command = new PublishCommand({
    TopicArn: req.topicArn,
    Message: JSON.stringify(p),
    Subject: subjectOf(notificationText(p)),
    MessageAttributes: {
      kind: { DataType: "String", StringValue: p.kind },
      stackId: { DataType: "String", StringValue: p.stackId },
      machine: { DataType: "String", StringValue: p.machine },
    },
    // A FIFO topic needs a group (one stack's notifications stay in order) and drops a retry of
    // the same notification id that it already took (within its 5-minute deduplication window).
    ...(fifo ? { MessageGroupId: p.stackId, MessageDeduplicationId: p.id } : {}),
  });
  const signal = AbortSignal.timeout(req.timeoutMs);
  try {
    await client.send(command, { abortSignal: signal });
    return sent;
  } catch (err) {
    return fromSdkError(err, req.timeoutMs, signal.aborted);
  }
}

/** A summary line SNS accepts as a subject: printable ASCII, at most 100 characters. */
export function subjectOf(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, "?").trim();
  return ascii.length <= MAX_SUBJECT ? ascii : `${ascii.slice(0, MAX_SUBJECT - 3)}...`;
}
