import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { DevError } from "./errors.js";

export const QUEUE_NAMES = {
  events: "stackseam-events",
  tasks: "stackseam-tasks",
  eventsDlq: "stackseam-events-dlq",
  tasksDlq: "stackseam-tasks-dlq",
} as const;
export const SPECS_BUCKET = "stackseam-specs";
/** Like a Lambda event source mapping's queue: a message goes to the DLQ after this many receives. */
export const MAX_RECEIVE_COUNT = 3;

export interface QueueTimeouts {
  /** Seconds a received event message stays invisible (above the State Manager's timeout). */
  events: number;
  /** Seconds a received task message stays invisible (above the Task Satisfier's timeout). */
  tasks: number;
}

export interface DevAws {
  /** The SQS endpoint every client is given explicitly. */
  endpoint: string;
  s3Endpoint: string;
  region: string;
  /** True when dev runs fauxqs itself; false when AWS_ENDPOINT_URL(_SQS) points elsewhere. */
  embedded: boolean;
  eventQueueUrl: string;
  taskQueueUrl: string;
  eventDlqUrl: string;
  taskDlqUrl: string;
  bucket: string;
  sqs: SQSClient;
  s3: S3Client;
  /** Variables that point the AWS SDK / CLI at this endpoint (no secrets: dummy keys only). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface DevAwsOptions {
  dataDir: string;
  /** Port for the embedded endpoint; 0 picks a free one. */
  port: number;
  timeouts: QueueTimeouts;
}

const DUMMY_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;

async function queueUrl(sqs: SQSClient, name: string): Promise<string | null> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? null;
  } catch (err) {
    if (
      err instanceof QueueDoesNotExist ||
      (err as { name?: string }).name === "AWS.SimpleQueueService.NonExistentQueue"
    ) {
      return null;
    }
    throw err;
  }
}

/**
 * Creates the queue when missing, then sets the attributes dev relies on. Looking up first keeps
 * this idempotent on real SQS too, where CreateQueue with different attributes is an error.
 */
async function ensureQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  const existing = await queueUrl(sqs, name);
  if (existing) {
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: existing, Attributes: attributes }));
    return existing;
  }
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!created.QueueUrl) throw new Error(`CreateQueue ${name} returned no URL`);
  return created.QueueUrl;
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  const arn = attrs.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${url} has no QueueArn`);
  return arn;
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

async function ensureResources(
  sqs: SQSClient,
  s3: S3Client,
  timeouts: QueueTimeouts,
): Promise<Pick<DevAws, "eventQueueUrl" | "taskQueueUrl" | "eventDlqUrl" | "taskDlqUrl" | "bucket">> {
  const retention = String(14 * 24 * 3600);
  const eventDlqUrl = await ensureQueue(sqs, QUEUE_NAMES.eventsDlq, { MessageRetentionPeriod: retention });
  const taskDlqUrl = await ensureQueue(sqs, QUEUE_NAMES.tasksDlq, { MessageRetentionPeriod: retention });
  const redrive = async (dlq: string) =>
    JSON.stringify({
      deadLetterTargetArn: await queueArn(sqs, dlq),
      maxReceiveCount: String(MAX_RECEIVE_COUNT),
    });
  const eventQueueUrl = await ensureQueue(sqs, QUEUE_NAMES.events, {
    VisibilityTimeout: String(timeouts.events),
    RedrivePolicy: await redrive(eventDlqUrl),
  });
  const taskQueueUrl = await ensureQueue(sqs, QUEUE_NAMES.tasks, {
    VisibilityTimeout: String(timeouts.tasks),
    RedrivePolicy: await redrive(taskDlqUrl),
  });
  await ensureBucket(s3, SPECS_BUCKET);
  return { eventQueueUrl, taskQueueUrl, eventDlqUrl, taskDlqUrl, bucket: SPECS_BUCKET };
}

function isAddressInUse(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") return true;
  }
  return false;
}

/**
 * SQS + S3 for dev: an embedded fauxqs on 127.0.0.1 (state in `<dataDir>/fauxqs`, so queued
 * messages survive a restart), or the endpoint named by AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL.
 * Either way the queues, their DLQs and the specs bucket are created when missing.
 */
export async function startDevAws(opts: DevAwsOptions): Promise<DevAws> {
  const env = process.env;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  const external = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  let endpoint: string;
  let s3Endpoint: string;
  let stopServer = async () => {};
  if (external) {
    endpoint = external;
    s3Endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? external;
  } else {
    const { startLoopbackFauxqs } = await import("./loopback-fauxqs.js");
    const dataDir = join(opts.dataDir, "fauxqs");
    await mkdir(dataDir, { recursive: true });
    try {
      const server = await startLoopbackFauxqs({ port: opts.port, logger: false, dataDir });
      endpoint = server.address;
      s3Endpoint = server.address;
      stopServer = () => server.stop();
    } catch (err) {
      if (isAddressInUse(err)) {
        throw new DevError(
          "PORT_IN_USE",
          `port ${opts.port} on 127.0.0.1 is taken (LocalStack or another dev?); use --port <n>, or --port 0 for any free port`,
          { cause: err },
        );
      }
      throw new DevError("AWS_SETUP_FAILED", `could not start the embedded SQS/S3 endpoint: ${String(err)}`, {
        cause: err,
      });
    }
  }

  // Explicit credentials only when the environment has none: fauxqs accepts anything.
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY && external ? undefined : DUMMY_CREDENTIALS;
  const common = { region, ...(credentials ? { credentials } : {}) };
  const sqs = new SQSClient({ ...common, endpoint });
  const s3 = new S3Client({ ...common, endpoint: s3Endpoint, forcePathStyle: true });
  let resources: Awaited<ReturnType<typeof ensureResources>>;
  try {
    resources = await ensureResources(sqs, s3, opts.timeouts);
    if (!external) {
      // fauxqs persists each queue's URL with the port it was created on, and --port 0 changes it.
      // (A regex: WHATWG URL refuses hosts like sqs.us-east-1.127.0.0.1.)
      const port = endpoint.slice(endpoint.lastIndexOf(":") + 1);
      for (const key of ["eventQueueUrl", "taskQueueUrl", "eventDlqUrl", "taskDlqUrl"] as const) {
        resources[key] = resources[key].replace(/^(https?:\/\/[^/]+):\d+\//, `$1:${port}/`);
      }
    }
  } catch (err) {
    sqs.destroy();
    s3.destroy();
    await stopServer();
    throw new DevError(
      "AWS_SETUP_FAILED",
      `could not create the queues and bucket at ${endpoint}: ${String(err)}`,
      {
        cause: err,
      },
    );
  }

  return {
    endpoint,
    s3Endpoint,
    region,
    embedded: !external,
    ...resources,
    sqs,
    s3,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      ...(s3Endpoint !== endpoint ? { AWS_ENDPOINT_URL_S3: s3Endpoint } : {}),
      AWS_REGION: region,
      // AWS CLI v1 reads only AWS_DEFAULT_REGION.
      AWS_DEFAULT_REGION: region,
      ...(credentials
        ? { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey }
        : {}),
      SQS_EVENT_QUEUE_URL: resources.eventQueueUrl,
      SQS_TASK_QUEUE_URL: resources.taskQueueUrl,
    },
    async stop() {
      sqs.destroy();
      s3.destroy();
      await stopServer();
    },
  };
}
