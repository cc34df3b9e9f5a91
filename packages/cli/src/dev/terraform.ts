import type { Logger } from "@aws-lambda-powertools/logger";
import { CreateBucketCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { localRunnerLauncher, type TaskSatisfierOptions } from "@stackseam/task-satisfier";
import type { DevAws } from "./aws.js";

/** Where dev keeps Terraform state when the module declares no backend (TERRAFORM_STATE_BUCKET overrides). */
export const DEV_STATE_BUCKET = "stackseam-terraform-state";

export interface DevTerraform {
  /** Spread into createTaskSatisfier: the state bucket, the S3 endpoint, Terraform's env, the local runner. */
  options: Pick<TaskSatisfierOptions, "backend" | "terraformEnv" | "runnerLauncher">;
  stateBucket: string;
  /** Stops local runners still working (they report their task as stopped). */
  stop(): Promise<void>;
  /** Kills local runners at once (a forced stop). */
  kill(): void;
}

type LogLevel = "debug" | "info" | "warn" | "error";

/** A runner's JSON log line, logged again through dev's file logger (dev.log and the live log). */
function relog(logger: Logger, line: string): void {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    logger.info(line, { stream: "runner" });
    return;
  }
  const { level, message, timestamp: _t, service: _s, sampling_rate: _r, ...rest } = record;
  const name = (typeof level === "string" ? level.toLowerCase() : "info") as LogLevel;
  const log = ["debug", "info", "warn", "error"].includes(name) ? name : "info";
  logger[log](typeof message === "string" ? message : line, rest);
}

/**
 * What Terraform needs to run against dev's own S3 with no edits to the module: the state bucket
 * (created when missing) for modules without a backend, the endpoint with path-style addressing and
 * no STS/IAM/IMDS calls for any S3 backend, region and test credentials in Terraform's
 * environment; and runner tasks started as local child processes in place of ECS.
 */
export async function prepareDevTerraform(opts: {
  aws: DevAws;
  terraformBin: string;
  runnerLogger: Logger;
}): Promise<DevTerraform> {
  const { aws } = opts;
  const stateBucket = process.env.TERRAFORM_STATE_BUCKET?.trim() || DEV_STATE_BUCKET;
  try {
    await aws.s3.send(new HeadBucketCommand({ Bucket: stateBucket }));
  } catch {
    await aws.s3.send(new CreateBucketCommand({ Bucket: stateBucket }));
  }
  const region = aws.region;
  const credentials: Record<string, string> = {};
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
    const value = aws.env[name];
    if (value !== undefined) credentials[name] = value;
  }
  // Only S3 goes to dev's endpoint: a module's AWS provider keeps talking to AWS (or nothing).
  const terraformEnv = {
    AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    ...credentials,
  };
  const launcher = localRunnerLauncher({
    env: {
      ...aws.env,
      ...terraformEnv,
      SQS_EVENT_QUEUE_URL: aws.eventQueueUrl,
      TERRAFORM_BIN: opts.terraformBin,
      TERRAFORM_STATE_BUCKET: stateBucket,
      TERRAFORM_STATE_REGION: region,
      TERRAFORM_S3_ENDPOINT: aws.s3Endpoint,
      POWERTOOLS_LOG_LEVEL: process.env.LOG_LEVEL ?? "INFO",
    },
    store: { s3: aws.s3, bucket: stateBucket },
    onOutput: (line) => relog(opts.runnerLogger, line),
  });
  return {
    options: {
      backend: { stateBucket: { bucket: stateBucket, region }, s3Endpoint: { url: aws.s3Endpoint } },
      terraformEnv,
      runnerLauncher: launcher,
    },
    stateBucket,
    stop: () => launcher.stop?.() ?? Promise.resolve(),
    kill: () => launcher.kill(),
  };
}
