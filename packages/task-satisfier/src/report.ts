import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import {
  MAX_DESCRIPTION_LENGTH,
  parseTaskReport,
  sanitizeText,
  type TaskMessage,
  type TaskReport,
} from "@stackseam/core";
import { TaskSatisfierError } from "./errors.js";
import { outputsProblem, type TaskOutputs } from "./outputs.js";

const HEAD = 2048;

type Identity = Pick<TaskMessage, "stackId" | "task" | "token">;

/**
 * Fits a description into the report's limit, keeping its beginning (which step failed) and its
 * end (where tools print the error) and cutting the middle.
 */
export function fitDescription(text: string, max = MAX_DESCRIPTION_LENGTH): string {
  if (text.length <= max) return text;
  const marker = "\n[… cut …]\n";
  return `${text.slice(0, HEAD)}${marker}${text.slice(text.length - (max - HEAD - marker.length))}`.toWellFormed();
}

function errorReport(task: Identity, description: string): TaskReport {
  const clean = fitDescription(sanitizeText(description)) || "the task failed without a description";
  return {
    stackId: task.stackId,
    event: "TASK_ERROR",
    task: task.task,
    token: task.token,
    description: clean,
  };
}

/**
 * The report for a task's outcome, always one the event queue and the State Manager accept: the
 * description is made carriable and readable (terminal colours stripped, control characters
 * shown) and fitted to the limit; outputs that cannot travel (size, names, text) turn the report
 * into a TASK_ERROR that says why. The satisfier never refuses its own report.
 */
export function reportFor(
  task: Identity,
  outcome: { ok: true; outputs?: TaskOutputs } | { ok: false; description: string },
): TaskReport {
  if (!outcome.ok) return errorReport(task, outcome.description);
  const report: TaskReport = {
    stackId: task.stackId,
    event: "TASK_COMPLETED",
    task: task.task,
    token: task.token,
  };
  if (outcome.outputs !== undefined) {
    const problem = outputsProblem(outcome.outputs);
    if (problem !== null)
      return errorReport(task, `the task succeeded but its outputs cannot be reported: ${problem}`);
    report.outputs = outcome.outputs;
  }
  const checked = parseTaskReport(report);
  return checked.ok
    ? checked.report
    : errorReport(task, `the task succeeded but its report is invalid: ${checked.reason}`);
}

/** A TASK_HEARTBEAT report: the task is still running (sent while a long task works). */
export function heartbeatReport(task: Identity): TaskReport {
  return { stackId: task.stackId, event: "TASK_HEARTBEAT", task: task.task, token: task.token };
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
        // On a FIFO event queue, reports of one stack stay in order and a resend within 5 minutes is
        // dropped. Heartbeats are all alike, so each gets its own id.
        ...(fifo
          ? {
              MessageGroupId: report.stackId,
              MessageDeduplicationId:
                report.event === "TASK_HEARTBEAT"
                  ? `${report.token}:hb:${Date.now()}`.slice(-128)
                  : `${report.token}:${report.event}`.slice(0, 128),
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
