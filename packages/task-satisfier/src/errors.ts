export const TASK_SATISFIER_ERROR_CODES = [
  "CONFIG",
  "TRANSIENT",
  "INVALID_MESSAGE",
  "REPORT_INVALID",
  "REPORT_SEND_FAILED",
  "FUNCTION_NOT_FOUND",
  "INVALID_FUNCTION_NAME",
  "INVOKE_FAILED",
] as const;
export type TaskSatisfierErrorCode = (typeof TASK_SATISFIER_ERROR_CODES)[number];

/** A failure of the Task Satisfier itself; a task that fails is a TASK_ERROR report instead. */
export class TaskSatisfierError extends Error {
  readonly code: TaskSatisfierErrorCode;

  constructor(code: TaskSatisfierErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TaskSatisfierError";
    this.code = code;
  }
}

/**
 * A failure that may go away on its own (throttling, 5xx, network): the SQS record is retried
 * instead of being reported as TASK_ERROR.
 */
export class TransientError extends TaskSatisfierError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TRANSIENT", message, options);
    this.name = "TransientError";
  }
}

/** One clear message listing every configuration problem found at cold start. */
export class ConfigError extends TaskSatisfierError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      "CONFIG",
      `Task Satisfier configuration is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "SlowDown",
  "EC2ThrottledException",
  "ServiceException",
  "ServiceUnavailable",
  "InternalError",
  "InternalFailure",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
]);
const NETWORK = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
]);

/** True when an AWS SDK (or socket) error is worth retrying later: throttling, 5xx, network. */
export function isTransientAwsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & {
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    code?: unknown;
    $fault?: unknown;
  };
  if (THROTTLING.has(e.name)) return true;
  if (typeof e.code === "string" && NETWORK.has(e.code)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === "number") return status >= 500 || status === 429;
  return e.$fault === "server";
}
