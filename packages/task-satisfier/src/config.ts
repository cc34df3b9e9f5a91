import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "./errors.js";
import { DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_TERRAFORM_BIN } from "./executors/terraform.js";
import type { BackendSettings } from "./terraform-backend.js";
import { DEFAULT_LOCK_TIMEOUT_SECONDS } from "./terraform-command.js";

/** How often a running task says it is alive (TASK_HEARTBEAT), by default. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

export interface TaskSatisfierConfig {
  eventQueueUrl: string;
  terraformBin: string;
  deadlineMarginMs: number;
  /** TERRAFORM_STATE_BUCKET / TERRAFORM_STATE_REGION, and TERRAFORM_S3_ENDPOINT. */
  backend: BackendSettings;
  /** TF_PLUGIN_CACHE_DIR wins; else a folder under the temp dir shared by warm invocations. */
  pluginCacheDir: string;
  providersMirror?: string;
  lockTimeoutSeconds: number;
  heartbeatIntervalMs: number;
  /** Where task messages too big for an ECS override go (RUNNER_MESSAGE_BUCKET, else the state bucket). */
  runnerMessageBucket?: string;
}

const ENDPOINT_VARS = [
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_SQS",
  "AWS_ENDPOINT_URL_S3",
  "AWS_ENDPOINT_URL_LAMBDA",
  "AWS_ENDPOINT_URL_ECS",
  "TERRAFORM_S3_ENDPOINT",
];

// Queue URLs are only checked for shape: fauxqs names hosts like `sqs.us-east-1.127.0.0.1`, which
// the WHATWG URL parser rejects but the SDK (given an explicit endpoint) never has to resolve.
const QUEUE_URL = /^https?:\/\/\S+$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function isUrl(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

const set = (v: string | undefined): string | undefined => {
  const t = v?.trim();
  return t === undefined || t === "" ? undefined : t;
};

function wholeNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  problems: string[],
  what: string,
): number {
  const raw = set(env[name]);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    problems.push(`${name} must be a whole number of ${what} ≥ 0 (got ${JSON.stringify(env[name])})`);
    return fallback;
  }
  return n;
}

/** Reads the Task Satisfier's environment; throws one ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): TaskSatisfierConfig {
  const problems: string[] = [];
  const eventQueueUrl = env.SQS_EVENT_QUEUE_URL?.trim() ?? "";
  if (eventQueueUrl === "")
    problems.push("SQS_EVENT_QUEUE_URL is required (the event queue the reports go to)");
  else if (!QUEUE_URL.test(eventQueueUrl))
    problems.push(`SQS_EVENT_QUEUE_URL is not a URL: ${JSON.stringify(eventQueueUrl)}`);

  const terraformBin = (env.TERRAFORM_BIN ?? DEFAULT_TERRAFORM_BIN).trim();
  if (terraformBin === "")
    problems.push("TERRAFORM_BIN is empty (unset it for `terraform`, or name a binary)");

  const deadlineMarginMs = wholeNumber(
    env,
    "TERRAFORM_DEADLINE_MARGIN_MS",
    DEFAULT_DEADLINE_MARGIN_MS,
    problems,
    "milliseconds",
  );
  const lockTimeoutSeconds = wholeNumber(
    env,
    "TERRAFORM_LOCK_TIMEOUT_SECONDS",
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    problems,
    "seconds",
  );
  const heartbeatSeconds = wholeNumber(
    env,
    "HEARTBEAT_INTERVAL_SECONDS",
    DEFAULT_HEARTBEAT_SECONDS,
    problems,
    "seconds",
  );
  for (const name of ENDPOINT_VARS) {
    const value = env[name];
    if (value !== undefined && value !== "" && !isUrl(value))
      problems.push(`${name} is not a URL: ${JSON.stringify(value)}`);
  }

  const backend: BackendSettings = {};
  const bucket = set(env.TERRAFORM_STATE_BUCKET);
  if (bucket !== undefined) {
    const region = set(env.TERRAFORM_STATE_REGION) ?? set(env.AWS_REGION) ?? set(env.AWS_DEFAULT_REGION);
    if (!BUCKET.test(bucket))
      problems.push(`TERRAFORM_STATE_BUCKET is not an S3 bucket name: ${JSON.stringify(bucket)}`);
    if (region === undefined)
      problems.push(
        "TERRAFORM_STATE_BUCKET is set but no region is: set TERRAFORM_STATE_REGION (or AWS_REGION)",
      );
    else backend.stateBucket = { bucket, region };
  } else if (set(env.TERRAFORM_STATE_REGION) !== undefined) {
    problems.push("TERRAFORM_STATE_REGION is set without TERRAFORM_STATE_BUCKET");
  }
  const s3Endpoint = set(env.TERRAFORM_S3_ENDPOINT);
  if (s3Endpoint !== undefined && isUrl(s3Endpoint)) backend.s3Endpoint = { url: s3Endpoint };

  const runnerMessageBucket = set(env.RUNNER_MESSAGE_BUCKET) ?? bucket;
  const providersMirror = set(env.TERRAFORM_PROVIDERS_MIRROR);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    eventQueueUrl,
    terraformBin,
    deadlineMarginMs,
    backend,
    pluginCacheDir: set(env.TF_PLUGIN_CACHE_DIR) ?? join(tmpdir(), "stackseam-terraform-plugin-cache"),
    ...(providersMirror !== undefined ? { providersMirror } : {}),
    lockTimeoutSeconds,
    heartbeatIntervalMs: heartbeatSeconds * 1000,
    ...(runnerMessageBucket !== undefined ? { runnerMessageBucket } : {}),
  };
}
