import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** What `stackseam dev` writes to `<data-dir>/dev.json` so other commands find it without flags. */
export interface DevInstance {
  pid: number;
  databaseUrl: string;
  /** The embedded SQS/S3 endpoint (fauxqs), e.g. http://127.0.0.1:4566. */
  endpoint: string;
  region: string;
  eventQueueUrl: string;
  taskQueueUrl: string;
  bucket: string;
  specsDir: string;
  /** Where lambda tasks' handler modules come from (absent in files written by older versions). */
  functionsDir?: string;
  startedAt: string;
}

export const DEV_FILE = "dev.json";

/** The dev data dir: STACKSEAM_DATA_DIR, else `.stackseam` in the current directory. */
export function devDataDir(explicit?: string): string {
  return resolve(explicit ?? process.env.STACKSEAM_DATA_DIR ?? ".stackseam");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The running dev instance described in the data dir, or null when none runs. */
export function findDevInstance(dataDir?: string): DevInstance | null {
  try {
    const info = JSON.parse(readFileSync(join(devDataDir(dataDir), DEV_FILE), "utf8")) as DevInstance;
    return alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

export interface Connection {
  databaseUrl?: string;
  eventQueueUrl?: string;
  endpoint?: string;
  region?: string;
  /** Dummy keys for the dev endpoint when the environment has none (fauxqs accepts any). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Where the values came from, for error messages. */
  source: "flags/env" | "dev";
  /** The running dev that supplied the database or the event queue, if one did. */
  dev?: DevInstance;
}

/**
 * Resolves where to talk to: explicit flags, then the standard environment variables
 * (DATABASE_URL, SQS_EVENT_QUEUE_URL, AWS_ENDPOINT_URL…), then a running `stackseam dev`.
 */
export function resolveConnection(flags: { databaseUrl?: string; queueUrl?: string } = {}): Connection {
  const env = process.env;
  const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL;
  const eventQueueUrl = flags.queueUrl ?? env.SQS_EVENT_QUEUE_URL;
  const dev = databaseUrl && eventQueueUrl ? null : findDevInstance();
  // The dev endpoint only goes with the dev queue: a queue URL given by the user keeps the
  // user's endpoint (or the real AWS one), even while a dev instance runs.
  const queueFromDev = dev !== null && !eventQueueUrl;
  const conn: Connection = { source: dev && (queueFromDev || !databaseUrl) ? "dev" : "flags/env" };
  if (dev && (queueFromDev || !databaseUrl)) conn.dev = dev;
  const db = databaseUrl ?? dev?.databaseUrl;
  if (db) conn.databaseUrl = db;
  const queue = eventQueueUrl ?? dev?.eventQueueUrl;
  if (queue) conn.eventQueueUrl = queue;
  const endpoint =
    env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL ?? (queueFromDev ? dev.endpoint : undefined);
  if (endpoint) conn.endpoint = endpoint;
  const region = env.AWS_REGION ?? (queueFromDev ? dev.region : undefined);
  if (region) conn.region = region;
  if (queueFromDev && !(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY))
    conn.credentials = { accessKeyId: "stackseam-dev", secretAccessKey: "stackseam-dev" };
  return conn;
}
