import { DEFAULT_POOL_MAX, type SslMode } from "./database.js";
import { ConfigError } from "./errors.js";
import { NOTIFY_DEFAULTS } from "./notify/backoff.js";
import { DEFAULT_CACHE_TTL_SECONDS } from "./s3-machine-source.js";

export type MachineLocator =
  | { kind: "S3"; bucket: string; prefix: string }
  | { kind: "LOCAL_FS"; dir: string };
export type DatabaseSource = { kind: "secret"; secretId: string } | { kind: "url"; url: string };

/** The State Manager's configuration, read from the environment. */
export interface StateManagerConfig {
  taskQueueUrl: string;
  /** Not used by the State Manager itself; accepted and checked so one env block serves both functions. */
  eventQueueUrl?: string;
  locator: MachineLocator;
  database: DatabaseSource;
  cacheTtlSeconds: number;
  poolMax: number;
  /** Named prepared statements for the event path, when set (default: auto, off through an RDS Proxy). */
  preparedStatements?: boolean;
  ssl?: SslMode;
  endpoints: { sqs?: string; s3?: string; secretsManager?: string; sns?: string; eventBridge?: string };
  region?: string;
  /** Delivering notifications (see docs/spec-reference.md#notifications). */
  notifications: { requestTimeoutMs: number; batchBudgetMs: number; maxAttempts: number };
}

type Env = Record<string, string | undefined>;

const SSL_MODES = ["disable", "require", "verify"] as const;

// Not `new URL`: fauxqs queue URLs (http://sqs.us-east-1.127.0.0.1:4566/…) are not WHATWG-valid hosts.
function isHttpUrl(value: string): boolean {
  return /^https?:\/\/[^\s/]+(\/\S*)?$/.test(value);
}

function set(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

/** Reads and checks the environment; throws one ConfigError that lists every problem. */
export function loadConfig(env: Env = process.env): StateManagerConfig {
  const problems: string[] = [];

  const taskQueueUrl = set(env, "SQS_TASK_QUEUE_URL");
  if (!taskQueueUrl)
    problems.push("SQS_TASK_QUEUE_URL is not set: the State Manager sends task messages there");
  else if (!isHttpUrl(taskQueueUrl))
    problems.push(`SQS_TASK_QUEUE_URL is not a queue URL: "${taskQueueUrl}"`);
  const eventQueueUrl = set(env, "SQS_EVENT_QUEUE_URL");
  if (eventQueueUrl && !isHttpUrl(eventQueueUrl)) {
    problems.push(`SQS_EVENT_QUEUE_URL is not a queue URL: "${eventQueueUrl}"`);
  }

  let locator: MachineLocator | undefined;
  const kind = set(env, "MACHINE_LOCATOR");
  if (kind === "S3") {
    const bucket = set(env, "MACHINE_S3_BUCKET");
    if (!bucket) problems.push("MACHINE_S3_BUCKET is not set (required when MACHINE_LOCATOR=S3)");
    locator = { kind: "S3", bucket: bucket ?? "", prefix: env.MACHINE_S3_KEY?.trim() ?? "" };
  } else if (kind === "LOCAL_FS") {
    const dir = set(env, "MACHINE_SPEC_DIR");
    if (!dir) problems.push("MACHINE_SPEC_DIR is not set (required when MACHINE_LOCATOR=LOCAL_FS)");
    else if (!dir.startsWith("/")) problems.push(`MACHINE_SPEC_DIR must be an absolute path, got "${dir}"`);
    locator = { kind: "LOCAL_FS", dir: dir ?? "" };
  } else if (kind === undefined) {
    problems.push(
      "MACHINE_LOCATOR is not set: use S3 (with MACHINE_S3_BUCKET, MACHINE_S3_KEY) or LOCAL_FS (with MACHINE_SPEC_DIR)",
    );
  } else {
    problems.push(`MACHINE_LOCATOR must be S3 or LOCAL_FS, got "${kind}"`);
  }

  let database: DatabaseSource | undefined;
  const secretId = set(env, "POSTGRES_CONNECTION_SECRET");
  const url = set(env, "DATABASE_URL");
  if (secretId && url) {
    problems.push("set only one of POSTGRES_CONNECTION_SECRET and DATABASE_URL");
  } else if (secretId) {
    database = { kind: "secret", secretId };
  } else if (url) {
    if (!/^postgres(ql)?:\/\//.test(url))
      problems.push("DATABASE_URL must start with postgres:// or postgresql://");
    database = { kind: "url", url };
  } else {
    problems.push("no database: set POSTGRES_CONNECTION_SECRET (a Secrets Manager secret) or DATABASE_URL");
  }

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = set(env, name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };
  const cacheTtlSeconds = integer("MACHINE_CACHE_TTL_SECONDS", DEFAULT_CACHE_TTL_SECONDS, 0, 86_400);
  const poolMax = integer("POSTGRES_POOL_MAX", DEFAULT_POOL_MAX, 1, 50);
  const preparedRaw = set(env, "POSTGRES_PREPARED_STATEMENTS");
  let preparedStatements: boolean | undefined;
  if (preparedRaw === "on" || preparedRaw === "off") preparedStatements = preparedRaw === "on";
  else if (preparedRaw !== undefined && preparedRaw !== "auto")
    problems.push(`POSTGRES_PREPARED_STATEMENTS must be one of on, off, auto, got "${preparedRaw}"`);
  const notifications = {
    requestTimeoutMs: integer("NOTIFICATION_TIMEOUT_MS", NOTIFY_DEFAULTS.requestTimeoutMs, 100, 30_000),
    batchBudgetMs: integer("NOTIFICATION_BATCH_BUDGET_MS", NOTIFY_DEFAULTS.batchBudgetMs, 0, 30_000),
    maxAttempts: integer("NOTIFICATION_MAX_ATTEMPTS", NOTIFY_DEFAULTS.maxAttempts, 1, 100),
  };

  const sslRaw = set(env, "POSTGRES_SSL");
  let ssl: SslMode | undefined;
  if (sslRaw !== undefined) {
    if ((SSL_MODES as readonly string[]).includes(sslRaw)) ssl = sslRaw as SslMode;
    else problems.push(`POSTGRES_SSL must be one of ${SSL_MODES.join(", ")}, got "${sslRaw}"`);
  }

  const endpoints: StateManagerConfig["endpoints"] = {};
  for (const [key, names] of [
    ["sqs", ["AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"]],
    ["s3", ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]],
    ["secretsManager", ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"]],
    ["sns", ["AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL"]],
    ["eventBridge", ["AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL"]],
  ] as const) {
    for (const name of names) {
      const value = set(env, name);
      if (value === undefined) continue;
      const problem = `${name} is not a URL: "${value}"`;
      // AWS_ENDPOINT_URL serves every client: one bad value is one problem.
      if (!isHttpUrl(value)) {
        if (!problems.includes(problem)) problems.push(problem);
      } else endpoints[key] = value;
      break;
    }
  }

  if (problems.length > 0 || !taskQueueUrl || !locator || !database) throw new ConfigError(problems);
  const config: StateManagerConfig = {
    taskQueueUrl,
    locator,
    database,
    cacheTtlSeconds,
    poolMax,
    endpoints,
    notifications,
  };
  if (eventQueueUrl) config.eventQueueUrl = eventQueueUrl;
  if (ssl) config.ssl = ssl;
  if (preparedStatements !== undefined) config.preparedStatements = preparedStatements;
  const region = set(env, "AWS_REGION") ?? set(env, "AWS_DEFAULT_REGION");
  if (region) config.region = region;
  return config;
}
