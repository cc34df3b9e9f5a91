import { ConfigError } from "./errors.js";
import { DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_TERRAFORM_BIN } from "./executors/terraform.js";

export interface TaskSatisfierConfig {
  eventQueueUrl: string;
  terraformBin: string;
  deadlineMarginMs: number;
}

const ENDPOINT_VARS = [
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_SQS",
  "AWS_ENDPOINT_URL_S3",
  "AWS_ENDPOINT_URL_LAMBDA",
];

// Queue URLs are only checked for shape: fauxqs names hosts like `sqs.us-east-1.127.0.0.1`, which
// the WHATWG URL parser rejects but the SDK (given an explicit endpoint) never has to resolve.
const QUEUE_URL = /^https?:\/\/\S+$/;

function isUrl(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
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
  if (terraformBin.trim() === "")
    problems.push("TERRAFORM_BIN is empty (unset it for `terraform`, or name a binary)");

  let deadlineMarginMs = DEFAULT_DEADLINE_MARGIN_MS;
  const margin = env.TERRAFORM_DEADLINE_MARGIN_MS;
  if (margin !== undefined && margin.trim() !== "") {
    deadlineMarginMs = Number(margin);
    if (!Number.isInteger(deadlineMarginMs) || deadlineMarginMs < 0) {
      problems.push(
        `TERRAFORM_DEADLINE_MARGIN_MS must be a whole number of milliseconds ≥ 0 (got ${JSON.stringify(margin)})`,
      );
    }
  }
  for (const name of ENDPOINT_VARS) {
    const value = env[name];
    if (value !== undefined && value !== "" && !isUrl(value))
      problems.push(`${name} is not a URL: ${JSON.stringify(value)}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { eventQueueUrl, terraformBin, deadlineMarginMs };
}
