import { Logger } from "@aws-lambda-powertools/logger";
import type { TaskMessage, TaskReport } from "@stackseam/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { awsClients } from "./aws-clients.js";
import { loadConfig } from "./config.js";
import { awsLambdaInvoker } from "./lambda-invoker.js";
import { createTaskSatisfier, type TaskSatisfier } from "./satisfier.js";

const logger = new Logger({ serviceName: "stackseam-task-satisfier" });
let satisfier: TaskSatisfier | undefined;
let configFailure: Error | undefined;

function instance(): TaskSatisfier {
  if (satisfier) return satisfier;
  if (configFailure) throw configFailure;
  try {
    const config = loadConfig();
    const clients = awsClients();
    satisfier = createTaskSatisfier({
      sqs: clients.sqs,
      eventQueueUrl: config.eventQueueUrl,
      s3: clients.s3,
      invoker: awsLambdaInvoker(clients.lambda),
      terraformBin: config.terraformBin,
      deadlineMarginMs: config.deadlineMarginMs,
      logger,
    });
    return satisfier;
  } catch (err) {
    configFailure = err as Error;
    logger.error("configuration error", { error: configFailure });
    throw configFailure;
  }
}

/**
 * The Lambda entry point, configured from the environment on first use. An SQS event returns
 * `{ batchItemFailures }`; a task message invoked directly returns its report (after sending it).
 */
export async function handler(
  event: SQSEvent | TaskMessage,
  context: Context,
): Promise<SQSBatchResponse | TaskReport> {
  return instance().handler(event, context);
}
