import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { startLoopbackFauxqs } from "../../packages/cli/src/dev/loopback-fauxqs.js";

export const TEST_REGION = "us-east-1";
export const TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;

export interface TestAws {
  endpoint: string;
  region: string;
  eventQueueUrl: string;
  taskQueueUrl: string;
  eventDlqUrl: string;
  taskDlqUrl: string;
  bucket: string;
  sqs: SQSClient;
  s3: S3Client;
  /** Environment variables that point the Lambdas' SDK clients at this server. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts an in-process fauxqs (real SQS + S3 over HTTP on loopback, port 0) with the queues and a bucket. */
export async function startTestAws(opts: { bucket?: string } = {}): Promise<TestAws> {
  const server = await startLoopbackFauxqs({ port: 0, logger: false });
  const endpoint = server.address;
  const bucket = opts.bucket ?? "stackseam-specs";
  const eventDlq = server.createQueue("stackseam-events-dlq");
  const taskDlq = server.createQueue("stackseam-tasks-dlq");
  const redrive = (arn: string) => JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: "3" });
  const events = server.createQueue("stackseam-events", {
    attributes: { RedrivePolicy: redrive(eventDlq.queueArn) },
  });
  const tasks = server.createQueue("stackseam-tasks", {
    attributes: { RedrivePolicy: redrive(taskDlq.queueArn) },
  });
  server.createBucket(bucket);
  const common = { endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS };
  const sqs = new SQSClient(common);
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  return {
    endpoint,
    region: TEST_REGION,
    eventQueueUrl: events.queueUrl,
    taskQueueUrl: tasks.queueUrl,
    eventDlqUrl: eventDlq.queueUrl,
    taskDlqUrl: taskDlq.queueUrl,
    bucket,
    sqs,
    s3,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: TEST_REGION,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      SQS_EVENT_QUEUE_URL: events.queueUrl,
      SQS_TASK_QUEUE_URL: tasks.queueUrl,
    },
    async stop() {
      sqs.destroy();
      s3.destroy();
      await server.stop();
    },
  };
}
