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
  /** Where the values came from, for error messages. */
  source: "flags/env" | "dev";
}

/**
 * Resolves where to talk to: explicit flags, then the standard environment variables
 * (DATABASE_URL, SQS_EVENT_QUEUE_URL, AWS_ENDPOINT_URL…), then a running `stackseam dev`.
 */
export function resolveConnection(flags: { databaseUrl?: string; queueUrl?: string } = {}): Connection {
  const env = process.env;
  const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL;
  const eventQueueUrl = flags.queueUrl ?? env.SQS_EVENT_QUEUE_URL;
  const dev = findDevInstance();
  if (dev && (!databaseUrl || !eventQueueUrl)) {
    const endpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL ?? dev.endpoint;
    return {
      databaseUrl: databaseUrl ?? dev.databaseUrl,
      eventQueueUrl: eventQueueUrl ?? dev.eventQueueUrl,
      endpoint,
      region: env.AWS_REGION ?? dev.region,
      source: "dev",
    };
  }
  const conn: Connection = { source: "flags/env" };
  if (databaseUrl) conn.databaseUrl = databaseUrl;
  if (eventQueueUrl) conn.eventQueueUrl = eventQueueUrl;
  const endpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  if (endpoint) conn.endpoint = endpoint;
  if (env.AWS_REGION) conn.region = env.AWS_REGION;
  return conn;
}
