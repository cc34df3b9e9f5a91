import { existsSync } from "node:fs";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { formatDiagnostic } from "@stackseam/core";
import {
  createStateManager,
  createTick,
  defaultDeps,
  localMachineSource,
  openDatabase,
  runMigrations,
  type StateManager,
} from "@stackseam/state-manager";
import { createTaskSatisfier, localLambdaInvoker } from "@stackseam/task-satisfier";
import { DEV_FILE, type DevInstance, findDevInstance } from "../connection.js";
import { type DevAws, startDevAws } from "./aws.js";
import { DevError } from "./errors.js";
import { fileLoggerFactory } from "./file-logger.js";
import type { LiveLog } from "./live-log.js";
import { requireDevDependencies } from "./optional-deps.js";
import { createPoller, type Poller, type SqsHandler } from "./poller.js";
import { choosePort } from "./port-choice.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./postgres.js";
import { watchSpecs } from "./spec-watcher.js";
import { prepareDevTerraform } from "./terraform.js";
import { startTicker, worthLogging } from "./ticker.js";

export interface DevOptions {
  specsDir: string;
  functionsDir: string;
  dataDir: string;
  /** Embedded SQS/S3 port; 0 picks a free one. */
  port: number;
  /** The user chose `port` (it must be free); else a taken default is replaced by a free port. */
  portGiven?: boolean;
}

/** Lambda-like limits: the State Manager's and Task Satisfier's timeouts, and queue visibility above them. */
const LIMITS = {
  events: { timeoutMs: 30_000, visibility: 60, concurrency: 4, batchSize: 10 },
  // The Task Satisfier runs a batch's tasks one after another, so parallelism comes from more
  // pollers with one task each (as a task queue's event source mapping would be set up).
  tasks: { timeoutMs: 900_000, visibility: 960, concurrency: 16, batchSize: 1 },
  waitSeconds: 1,
} as const;

/** Stacks one State Manager batch works on at once (each holds a pooled connection). */
const STATE_MANAGER_CONCURRENCY = 2;

/**
 * The Task Satisfier's timing settings from the environment, as its Lambda reads them: how long
 * before a task's deadline it stops (TERRAFORM_DEADLINE_MARGIN_MS; a task with a shorter
 * `timeout` than this is not started) and how often a running task sends TASK_HEARTBEAT.
 */
function satisfierTiming(
  env: NodeJS.ProcessEnv,
  warn: (text: string) => void,
): { deadlineMarginMs?: number; heartbeatIntervalMs?: number } {
  const whole = (name: string) => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (Number.isSafeInteger(n) && n >= 0) return n;
    warn(`${name} must be a whole number, not "${raw}": the default applies`);
    return undefined;
  };
  const margin = whole("TERRAFORM_DEADLINE_MARGIN_MS");
  const beat = whole("HEARTBEAT_INTERVAL_SECONDS");
  return {
    ...(margin !== undefined ? { deadlineMarginMs: margin } : {}),
    ...(beat !== undefined ? { heartbeatIntervalMs: beat * 1000 } : {}),
  };
}

export interface DevRuntime {
  instance: DevInstance;
  /** Where the database came from. */
  database: "embedded" | "DATABASE_URL";
  /** True when this run created the embedded cluster. */
  initialisedDatabase: boolean;
  aws: Pick<DevAws, "endpoint" | "s3Endpoint" | "embedded" | "env" | "eventDlqUrl" | "taskDlqUrl">;
  terraformBin: string | null;
  logFile: string;
  /** Graceful: stop receiving, let in-flight batches finish, then stop everything. */
  stop(): Promise<void>;
  /**
   * Forced: return in-flight messages to their queues at once and stop the servers without
   * waiting for handlers; the caller exits the process right after.
   */
  forceStop(): Promise<void>;
  /** Batches currently being handled (for the "waiting for…" message). */
  inFlight(): number;
}

/** The first executable named `name` on PATH (or the absolute path itself), else null. */
async function onPath(name: string): Promise<string | null> {
  const candidates = isAbsolute(name)
    ? [name]
    : (process.env.PATH ?? "")
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const file of candidates) {
    try {
      if ((await stat(file)).isFile()) return file;
    } catch {
      // keep looking
    }
  }
  return null;
}

async function requireDir(dir: string, code: "SPECS_DIR" | "FUNCTIONS_DIR", what: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch {
    // reported below
  }
  throw new DevError(
    code,
    `${what} ${dir} is not a folder (see --${code === "SPECS_DIR" ? "specs" : "functions"})`,
  );
}

async function queueArn(aws: DevAws, url: string): Promise<string> {
  const res = await aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  return res.Attributes?.QueueArn ?? `arn:aws:sqs:${aws.region}:000000000000:unknown`;
}

/**
 * Starts the whole engine on this machine: Postgres (embedded unless DATABASE_URL), SQS + S3
 * (embedded fauxqs unless AWS_ENDPOINT_URL points elsewhere), both Lambdas' real handlers fed by
 * SQS pollers, spec hot reload, and the live log. Writes `<dataDir>/dev.json` once ready.
 */
export async function startDev(opts: DevOptions, live: LiveLog): Promise<DevRuntime> {
  const dataDir = resolve(opts.dataDir);
  const specsDir = resolve(opts.specsDir);
  const functionsDir = resolve(opts.functionsDir);
  await mkdir(dataDir, { recursive: true });
  const running = findDevInstance(dataDir);
  if (running) {
    throw new DevError(
      "ALREADY_RUNNING",
      `stackseam dev already runs with data dir ${dataDir} (pid ${running.pid}); stop it or use --data-dir`,
    );
  }
  await requireDir(specsDir, "SPECS_DIR", "the specs folder");
  if (!existsSync(functionsDir))
    live.warn(`functions folder ${functionsDir} does not exist: lambda tasks will fail`);

  // Everything started so far, stopped in reverse if a later step fails.
  const undo: (() => Promise<void>)[] = [];
  const unwind = async () => {
    // Popping makes a second caller (Ctrl-C during a graceful stop) skip steps already taken.
    for (let step = undo.pop(); step; step = undo.pop()) await step().catch(() => undefined);
  };

  try {
    const databaseUrl = process.env.DATABASE_URL;
    // Before the database is initialised or started: a taken port must not cost an initdb.
    const embeddedAws = !(process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL);
    requireDevDependencies({ postgres: !databaseUrl, sqs: embeddedAws });
    const port = embeddedAws ? await choosePort(opts.port, opts.portGiven === true) : null;
    const [pgResult, awsResult] = await Promise.allSettled([
      databaseUrl
        ? Promise.resolve(null)
        : startEmbeddedPostgres({ dataDir, note: (line) => live.info(line) }),
      startDevAws({
        dataDir,
        port: port?.listen ?? opts.port,
        timeouts: { events: LIMITS.events.visibility, tasks: LIMITS.tasks.visibility },
      }),
    ]);
    const postgres: EmbeddedPostgres | null = pgResult.status === "fulfilled" ? pgResult.value : null;
    if (postgres) undo.push(() => postgres.stop());
    if (awsResult.status === "fulfilled") undo.push(() => awsResult.value.stop());
    if (pgResult.status === "rejected") throw pgResult.reason;
    if (awsResult.status === "rejected") throw awsResult.reason;
    const aws = awsResult.value;
    if (port?.movedFrom) {
      live.warn(
        `port ${port.movedFrom} is taken (LocalStack or another dev?): SQS and S3 are on ${aws.endpoint} instead`,
      );
    }
    const url = databaseUrl ?? postgres!.url;

    try {
      await runMigrations(url, { log: (line) => live.info(`migrations: ${line}`) });
    } catch (err) {
      throw new DevError("MIGRATION_FAILED", `database migrations failed: ${(err as Error).message}`, {
        cause: err,
      });
    }

    // The example functions (and any local handler) find the data dir here.
    process.env.STACKSEAM_DATA_DIR = dataDir;
    const logFile = join(dataDir, "dev.log");
    const logs = fileLoggerFactory(logFile, (record) => live.lambdaLog(record));
    undo.push(() => logs.close());

    const machines = localMachineSource({
      dir: specsDir,
      onReload: (results) => {
        for (const r of results) {
          if (r.removed) live.warn(`spec ${r.machine}: removed (${r.source})`);
          else if (r.ok)
            live.info(
              `spec ${r.machine}: loaded${r.diagnostics.length ? ` with ${r.diagnostics.length} warning(s)` : ""}`,
            );
          else if (r.keptLastGood)
            live.error(`spec ${r.machine}: invalid edit, the last good version keeps serving`);
          else live.error(`spec ${r.machine}: invalid, its events will be refused`);
          for (const d of r.diagnostics)
            (d.severity === "error" ? live.error : live.warn).call(live, `  ${formatDiagnostic(d)}`);
          if (!r.ok && r.diagnostics.length === 0)
            live.error(`  ${r.source}: ${r.reason ?? "could not be loaded"}`);
        }
      },
    });
    await machines.refresh();
    const watcher = watchSpecs(
      specsDir,
      () => machines.refresh(),
      (err) => live.error(`spec watcher: ${String(err)}`),
    );
    undo.push(async () => watcher.close());

    const poolMax = LIMITS.events.concurrency * STATE_MANAGER_CONCURRENCY + 2;
    const db = openDatabase(url, { max: poolMax, applicationName: "stackseam-dev-state-manager" });
    undo.push(() => db.destroy());
    const terraformName = process.env.TERRAFORM_BIN ?? "terraform";
    const terraformBin = await onPath(terraformName);
    const invoker = localLambdaInvoker(functionsDir);
    // Terraform against dev's own S3 (state bucket, endpoint, credentials) and local runners for `runner:` tasks.
    const terraform = await prepareDevTerraform({
      aws,
      terraformBin: terraformName,
      runnerLogger: logs.logger("stackseam-runner"),
    });
    undo.push(() => terraform.stop());
    const timing = satisfierTiming(process.env, (text) => live.warn(text));
    // One instance per poller loop, like one per Lambda container.
    const stateManagers: StateManager[] = [];
    undo.push(async () => void (await Promise.all(stateManagers.map((sm) => sm.close()))));
    const newStateManager = (): SqsHandler => {
      const sm = createStateManager({
        db,
        sqs: aws.sqs,
        taskQueueUrl: aws.taskQueueUrl,
        machines,
        logger: logs.logger("stackseam-state-manager"),
        concurrency: STATE_MANAGER_CONCURRENCY,
      });
      stateManagers.push(sm);
      return (event, context) => sm.handler(event, context);
    };
    const newTaskSatisfier = (): SqsHandler => {
      const satisfier = createTaskSatisfier({
        sqs: aws.sqs,
        eventQueueUrl: aws.eventQueueUrl,
        s3: aws.s3,
        invoker,
        terraformBin: terraformName,
        ...terraform.options,
        ...timing,
        logger: logs.logger("stackseam-task-satisfier"),
      });
      return async (event, context) => {
        const res = await satisfier.handler(event, context);
        return "batchItemFailures" in res ? res : undefined;
      };
    };

    let batches = 0;
    const counted =
      (handler: SqsHandler): SqsHandler =>
      async (event, context) => {
        batches++;
        try {
          return await handler(event, context);
        } finally {
          batches--;
        }
      };
    const pollerError = (name: string) => (err: unknown) => live.error(`${name}: ${String(err)}`);
    const [eventArn, taskArn] = await Promise.all([
      queueArn(aws, aws.eventQueueUrl),
      queueArn(aws, aws.taskQueueUrl),
    ]);
    const eventPoller: Poller = createPoller({
      name: "stackseam-state-manager",
      sqs: aws.sqs,
      queueUrl: aws.eventQueueUrl,
      queueArn: eventArn,
      region: aws.region,
      createHandler: () => counted(newStateManager()),
      onReceive: (records) => live.reports(records.map((r) => r.body)),
      concurrency: LIMITS.events.concurrency,
      batchSize: LIMITS.events.batchSize,
      waitSeconds: LIMITS.waitSeconds,
      visibilityTimeout: LIMITS.events.visibility,
      timeoutMs: LIMITS.events.timeoutMs,
      onBatch: (info) => {
        if (info.error !== undefined)
          live.error(`State Manager batch failed, will be retried: ${String(info.error)}`);
        else if (info.failed.length > 0)
          live.warn(`State Manager: ${info.failed.length} message(s) left for retry (see dev.log)`);
      },
      onError: pollerError("event queue"),
    });
    const taskPoller: Poller = createPoller({
      name: "stackseam-task-satisfier",
      sqs: aws.sqs,
      queueUrl: aws.taskQueueUrl,
      queueArn: taskArn,
      region: aws.region,
      createHandler: () => counted(newTaskSatisfier()),
      concurrency: LIMITS.tasks.concurrency,
      batchSize: LIMITS.tasks.batchSize,
      waitSeconds: LIMITS.waitSeconds,
      visibilityTimeout: LIMITS.tasks.visibility,
      timeoutMs: LIMITS.tasks.timeoutMs,
      onBatch: (info) => {
        if (info.error !== undefined)
          live.error(`Task Satisfier batch failed, will be retried: ${String(info.error)}`);
        else if (info.failed.length > 0)
          live.warn(`Task Satisfier: ${info.failed.length} task(s) left for retry (see dev.log)`);
      },
      onError: pollerError("task queue"),
    });
    eventPoller.start();
    taskPoller.start();
    undo.push(async () => void (await Promise.all([eventPoller.stop(), taskPoller.stop()])));

    // The tick, every second (deployed: every minute): timeouts, retries, TTLs, schedules, and task
    // messages left unsent. Its "timer fired" records reach the live log; idle ticks are not logged.
    const ticker = startTicker(
      createTick({
        db,
        sqs: aws.sqs,
        taskQueueUrl: aws.taskQueueUrl,
        machines,
        logger: logs.logger("stackseam-tick", worthLogging),
        deps: defaultDeps,
        concurrency: STATE_MANAGER_CONCURRENCY,
        // STACKSEAM_DEV_SCHEDULES=off keeps a dev (a test's, say) from the specs' cron schedules.
        schedules: process.env.STACKSEAM_DEV_SCHEDULES !== "off",
      }),
      (err) => live.error(`tick failed, the next one tries again: ${String(err)}`),
    );
    undo.push(() => ticker.stop());

    const instance: DevInstance = {
      pid: process.pid,
      databaseUrl: url,
      endpoint: aws.endpoint,
      region: aws.region,
      eventQueueUrl: aws.eventQueueUrl,
      taskQueueUrl: aws.taskQueueUrl,
      bucket: aws.bucket,
      specsDir,
      functionsDir,
      startedAt: new Date().toISOString(),
    };
    const devFile = join(dataDir, DEV_FILE);
    // It holds the database password of the embedded cluster: owner-only.
    await writeFile(devFile, `${JSON.stringify(instance, null, 2)}\n`, { mode: 0o600 });
    undo.push(() => rm(devFile, { force: true }));

    let stopping: Promise<void> | null = null;

    return {
      instance,
      database: databaseUrl ? "DATABASE_URL" : "embedded",
      initialisedDatabase: postgres?.initialised ?? false,
      aws: {
        endpoint: aws.endpoint,
        s3Endpoint: aws.s3Endpoint,
        embedded: aws.embedded,
        env: aws.env,
        eventDlqUrl: aws.eventDlqUrl,
        taskDlqUrl: aws.taskDlqUrl,
      },
      terraformBin,
      logFile,
      stop: () => {
        stopping ??= unwind();
        return stopping;
      },
      forceStop: async () => {
        // Only what must not be left behind: in-flight work is abandoned, not awaited.
        terraform.kill();
        await Promise.all([eventPoller.release(), taskPoller.release()]);
        await rm(devFile, { force: true });
        await aws.stop().catch(() => undefined);
        await postgres?.stop();
      },
      inFlight: () => batches,
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
