import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { loadConfig, type StateManagerConfig } from "./config.js";
import { type OpenDatabaseOptions, openDatabase } from "./database.js";
import { localMachineSource } from "./local-machine-source.js";
import { createLogger } from "./logger.js";
import { logReloads, type MachineSource } from "./machine-source.js";
import { createNotifier, type Notifier } from "./notify/notifier.js";
import { s3MachineSource } from "./s3-machine-source.js";
import { checkSchema } from "./schema-check.js";
import { databaseUrlFromSecret } from "./secrets.js";
import { createStateManager, defaultDeps } from "./state-manager.js";
import { createTick, type TickResult } from "./tick.js";

type Env = Record<string, string | undefined>;
export type LambdaHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

function clientOptions(config: StateManagerConfig, endpoint: string | undefined) {
  // Explicit endpoints matter: SQS would otherwise route by the queue URL's host (fauxqs: *.localhost).
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(config.region ? { region: config.region } : {}),
  };
}

/** What a container builds once: the database, clients and specs both entry points use. */
interface Parts {
  config: StateManagerConfig;
  logger: ReturnType<typeof createLogger>;
  db: ReturnType<typeof openDatabase>;
  sqs: SQSClient;
  machines: MachineSource;
  notifier: Notifier;
}

async function buildParts(env: Env): Promise<Parts> {
  const config = loadConfig(env);
  const logger = createLogger();
  let url: string;
  if (config.database.kind === "secret") {
    const secrets = new SecretsManagerClient(clientOptions(config, config.endpoints.secretsManager));
    try {
      url = await databaseUrlFromSecret(secrets, config.database.secretId);
    } finally {
      secrets.destroy();
    }
  } else {
    url = config.database.url;
  }
  const dbOptions: OpenDatabaseOptions = {
    max: config.poolMax,
    prepared: config.preparedStatements ?? "auto",
    onConnectionError: (err) =>
      logger.warn("database connection lost; the pool replaces it", { error: err.message }),
  };
  // RDS enforces TLS by default; a secret-based URL carries no sslmode, so encrypt unless told otherwise.
  const ssl = config.ssl ?? (config.database.kind === "secret" ? "require" : undefined);
  if (ssl) dbOptions.ssl = ssl;
  const db = openDatabase(url, dbOptions);
  const sqs = new SQSClient(clientOptions(config, config.endpoints.sqs));
  let machines: MachineSource;
  if (config.locator.kind === "S3") {
    const s3 = new S3Client({
      ...clientOptions(config, config.endpoints.s3),
      ...(config.endpoints.s3 ? { forcePathStyle: true } : {}),
    });
    machines = s3MachineSource({
      s3,
      bucket: config.locator.bucket,
      prefix: config.locator.prefix,
      ttlSeconds: config.cacheTtlSeconds,
      onReload: logReloads(logger),
      onReloadError: (error) =>
        logger.warn("machine specs not reloaded; the cached ones stay in use until the next try", {
          error,
        }),
    });
  } else {
    machines = localMachineSource({
      dir: config.locator.dir,
      keepLastGood: false,
      onReload: logReloads(logger),
    });
  }
  // The specs load while the schema is checked, so a cold start waits for S3 and Postgres at once;
  // the first event finds them loaded (or joins the load in flight). Its errors are the event's.
  machines.all().catch(() => {});
  try {
    await checkSchema(db);
  } catch (err) {
    await db.destroy().catch(() => {});
    throw err;
  }
  // Its SNS, EventBridge and Secrets Manager clients are made on first use, once per container.
  const notifier = createNotifier({
    db,
    logger,
    deps: defaultDeps,
    env,
    aws: {
      ...(config.region ? { region: config.region } : {}),
      endpoints: {
        ...(config.endpoints.sns ? { sns: config.endpoints.sns } : {}),
        ...(config.endpoints.eventBridge ? { eventBridge: config.endpoints.eventBridge } : {}),
        ...(config.endpoints.secretsManager ? { secretsManager: config.endpoints.secretsManager } : {}),
      },
    },
    ...(config.database.kind === "secret" ? { forbiddenSecretIds: [config.database.secretId] } : {}),
    ...config.notifications,
  });
  logger.info("State Manager configured", {
    locator: config.locator.kind,
    database: config.database.kind,
    poolMax: config.poolMax,
    cacheTtlSeconds: config.cacheTtlSeconds,
  });
  return { config, logger, db, sqs, machines, notifier };
}

/** Built once per container on first use; a failed start is not cached, so the next call retries. */
function lazily<T>(make: () => Promise<T>): () => Promise<T> {
  let instance: Promise<T> | undefined;
  return () => {
    instance ??= make().catch((err: unknown) => {
      instance = undefined;
      throw err;
    });
    return instance;
  };
}

/**
 * A Lambda handler configured from `env` on first use and reused for the container's life.
 * A failed start (bad config, unreadable secret) is not cached, so the next invocation retries.
 */
export function createLambdaHandler(env: () => Env = () => process.env): LambdaHandler {
  const manager = lazily(async () => {
    const p = await buildParts(env());
    return createStateManager({
      db: p.db,
      sqs: p.sqs,
      taskQueueUrl: p.config.taskQueueUrl,
      machines: p.machines,
      logger: p.logger,
      concurrency: p.config.poolMax,
      notifier: p.notifier,
    });
  });
  return async (event, context) => (await manager()).handler(event, context);
}

export type TickHandler = (event: unknown, context?: Context) => Promise<TickResult>;

// Time kept back from the Lambda deadline: claiming stops then, and what was claimed finishes.
const TICK_MARGIN_MS = 10_000;

/** The tick Lambda (`index.tick`), configured like the State Manager from `env` on first use. */
export function createTickHandler(env: () => Env = () => process.env): TickHandler {
  const tick = lazily(async () => {
    const p = await buildParts(env());
    return createTick({
      db: p.db,
      sqs: p.sqs,
      taskQueueUrl: p.config.taskQueueUrl,
      machines: p.machines,
      logger: p.logger,
      deps: defaultDeps,
      concurrency: p.config.poolMax,
      notifier: p.notifier,
    });
  });
  return async (_event, context) => {
    const budget = context ? Math.max(1_000, context.getRemainingTimeInMillis() - TICK_MARGIN_MS) : undefined;
    return (await tick()).run(budget);
  };
}

/** The State Manager Lambda entry point (`index.handler`). */
export const handler: LambdaHandler = createLambdaHandler();

/** The tick entry point (`index.tick`), for an EventBridge Scheduler `rate(1 minute)` schedule. */
export const tick: TickHandler = createTickHandler();
