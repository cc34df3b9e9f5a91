import type { Logger } from "@aws-lambda-powertools/logger";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { TaskMessage } from "@stackseam/core";
import { isTransientAwsError, TransientError } from "../errors.js";

/** The task message, as JSON, when it fits the container overrides. */
export const TASK_MESSAGE_VAR = "STACKSEAM_TASK_MESSAGE";
/** `s3://bucket/key` of the task message when it does not. */
export const TASK_MESSAGE_S3_VAR = "STACKSEAM_TASK_MESSAGE_S3";
/** ECS RunTask: all overrides together may hold at most this many characters of JSON. */
export const ECS_OVERRIDES_LIMIT = 8192;
export const RUNNER_MESSAGE_PREFIX = "stackseam/runner-messages/";

export type LaunchResult = { ok: true; id: string } | { ok: false; description: string };

/** Starts a task on a remote runner, which then sends its heartbeats and final report itself. */
export interface RunnerLauncher {
  launch(message: TaskMessage, ctx: { logger: Logger }): Promise<LaunchResult>;
  /** Stops what this launcher started in this process, if anything (local runners). */
  stop?(): Promise<void>;
}

/** Where a task message too big to pass inline is put for the runner to fetch. */
export interface MessageStore {
  s3: S3Client;
  bucket: string;
}

export type EnvEntry = { name: string; value: string };

/**
 * The environment a runner gets: `base` (the event queue, the state bucket…) plus the task
 * message, inline when `fits` says the entries are small enough, else through S3.
 */
export async function runnerEnvironment(
  message: TaskMessage,
  base: Record<string, string>,
  fits: (entries: EnvEntry[]) => boolean,
  store: MessageStore | undefined,
): Promise<{ ok: true; entries: EnvEntry[]; via: "env" | "s3" } | { ok: false; description: string }> {
  const common = Object.entries(base).map(([name, value]) => ({ name, value }));
  const body = JSON.stringify(message);
  const inline = [...common, { name: TASK_MESSAGE_VAR, value: body }];
  if (fits(inline)) return { ok: true, entries: inline, via: "env" };
  if (!store) {
    return {
      ok: false,
      description: `the task message (${body.length} characters) does not fit the ${ECS_OVERRIDES_LIMIT}-character limit of ECS container overrides, and no bucket is configured to pass it through: set RUNNER_MESSAGE_BUCKET (or TERRAFORM_STATE_BUCKET) on the Task Satisfier`,
    };
  }
  const key = `${RUNNER_MESSAGE_PREFIX}${message.stackId}/${encodeURIComponent(message.token)}.json`;
  try {
    await store.s3.send(
      new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body, ContentType: "application/json" }),
    );
  } catch (err) {
    if (isTransientAwsError(err))
      throw new TransientError("storing the task message for the runner failed transiently", { cause: err });
    return {
      ok: false,
      description: `storing the task message for the runner in s3://${store.bucket}/${key} failed: ${(err as Error).name}: ${(err as Error).message}`,
    };
  }
  return {
    ok: true,
    entries: [...common, { name: TASK_MESSAGE_S3_VAR, value: `s3://${store.bucket}/${key}` }],
    via: "s3",
  };
}

/** The task message a runner was started with, from its environment (inline or S3). */
export async function readRunnerMessage(env: NodeJS.ProcessEnv, s3: S3Client): Promise<unknown> {
  const inline = env[TASK_MESSAGE_VAR];
  if (inline !== undefined && inline !== "") return JSON.parse(inline) as unknown;
  const location = env[TASK_MESSAGE_S3_VAR];
  const m = location ? /^s3:\/\/([^/]+)\/(.+)$/.exec(location) : null;
  if (!m)
    throw new Error(
      `the runner needs ${TASK_MESSAGE_VAR} (the task message) or ${TASK_MESSAGE_S3_VAR} (s3://bucket/key)`,
    );
  const res = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
  return JSON.parse((await res.Body?.transformToString("utf8")) ?? "") as unknown;
}
