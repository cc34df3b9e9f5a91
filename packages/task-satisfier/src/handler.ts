import { Logger } from "@aws-lambda-powertools/logger";
import type { TaskMessage, TaskReport } from "@stackseam/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { awsClients } from "./aws-clients.js";
import { loadConfig } from "./config.js";
import { awsLambdaInvoker } from "./lambda-invoker.js";
import { ecsRunnerLauncher } from "./runner/ecs-launcher.js";
import { createTaskSatisfier, type TaskSatisfier } from "./satisfier.js";

const logger = new Logger({ serviceName: "stackseam-task-satisfier" });
let satisfier: TaskSatisfier | undefined;
let configFailure: Error | undefined;

/** What a runner needs from this function's configuration, so it reports and keeps state the same way. */
export function runnerEnv(config: ReturnType<typeof loadConfig>): Record<string, string> {
  const env: Record<string, string> = { SQS_EVENT_QUEUE_URL: config.eventQueueUrl };
  if (config.backend.stateBucket) {
    env.TERRAFORM_STATE_BUCKET = config.backend.stateBucket.bucket;
    env.TERRAFORM_STATE_REGION = config.backend.stateBucket.region;
  }
  return env;
}

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
      backend: config.backend,
      pluginCacheDir: config.pluginCacheDir,
      ...(config.providersMirror !== undefined ? { providersMirror: config.providersMirror } : {}),
      lockTimeoutSeconds: config.lockTimeoutSeconds,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      runnerLauncher: ecsRunnerLauncher({
        env: runnerEnv(config),
        ...(config.runnerMessageBucket !== undefined
          ? { store: { s3: clients.s3, bucket: config.runnerMessageBucket } }
          : {}),
      }),
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
