import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import {
  MAX_DESCRIPTION_LENGTH,
  parseTaskReport,
  type TaskMessage,
  type TaskReport,
  taskReport,
} from "@stackseam/core";
import { TaskSatisfierError } from "./errors.js";

const HEAD = 2048;

/**
 * Fits a description into the report's limit, keeping its beginning (which step failed) and its
 * end (where tools print the error) and cutting the middle.
 */
export function fitDescription(text: string, max = MAX_DESCRIPTION_LENGTH): string {
  if (text.length <= max) return text;
  const marker = "\n[… cut …]\n";
  return `${text.slice(0, HEAD)}${marker}${text.slice(text.length - (max - HEAD - marker.length))}`.toWellFormed();
}

/** The report for a task's outcome. */
export function reportFor(
  task: Pick<TaskMessage, "stackId" | "task" | "token">,
  outcome: { ok: true } | { ok: false; description: string },
): TaskReport {
  return taskReport(
    task,
    outcome.ok ? outcome : { ok: false, description: fitDescription(outcome.description) },
  );
}

/**
 * Validates a report against the schema and sends it to the event queue. Throws when it cannot be
 * sent: the caller fails the SQS record so the task runs again (tasks are idempotent).
 */
export async function sendReport(sqs: SQSClient, queueUrl: string, report: TaskReport): Promise<void> {
  const checked = parseTaskReport(report);
  if (!checked.ok) {
    throw new TaskSatisfierError("REPORT_INVALID", `refusing to send an invalid report: ${checked.reason}`);
  }
  const fifo = queueUrl.endsWith(".fifo");
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(checked.report),
        // On a FIFO event queue, reports of one stack stay in order and a resend within 5 minutes is dropped.
        ...(fifo
          ? {
              MessageGroupId: report.stackId,
              MessageDeduplicationId: `${report.token}:${report.event}`.slice(0, 128),
            }
          : {}),
      }),
    );
  } catch (err) {
    throw new TaskSatisfierError(
      "REPORT_SEND_FAILED",
      `sending the ${report.event} report for ${report.stackId}/${report.task} failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
