import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";

export interface AwsClientOverrides {
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Used for SQS and S3 when no endpoint variable names one (e.g. a running `stackseam dev`). */
  fallbackEndpoint?: string;
}

/**
 * The SDK clients, created once per container. Endpoints come from the SDK's standard variables;
 * they are passed explicitly because fauxqs queue URLs name a host (`sqs.<region>.localhost`) that
 * must not be used to reach it.
 */
export function awsClients(env: NodeJS.ProcessEnv = process.env, overrides: AwsClientOverrides = {}) {
  const sqsEndpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL ?? overrides.fallbackEndpoint;
  const s3Endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? overrides.fallbackEndpoint;
  const lambdaEndpoint = env.AWS_ENDPOINT_URL_LAMBDA ?? env.AWS_ENDPOINT_URL;
  const common = {
    ...(overrides.region ? { region: overrides.region } : {}),
    ...(overrides.credentials ? { credentials: overrides.credentials } : {}),
  };
  return {
    sqs: new SQSClient({ ...common, ...(sqsEndpoint ? { endpoint: sqsEndpoint } : {}) }),
    s3: new S3Client({ ...common, ...(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}) }),
    lambda: new LambdaClient({ ...common, ...(lambdaEndpoint ? { endpoint: lambdaEndpoint } : {}) }),
  };
}
