import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestAws } from "../../../../test/support/aws.js";
import { DEV_FILE, type DevInstance } from "../../src/connection.js";

/**
 * Writes the `dev.json` a running `stackseam dev` leaves in its data dir (docs/local-development.md),
 * naming this test process as dev: its pid is alive, so commands take the file's settings. Nothing
 * signals or stops that pid.
 */
export async function standInForDev(
  dataDir: string,
  databaseUrl: string,
  aws: TestAws,
  specsDir: string,
): Promise<DevInstance> {
  const dev: DevInstance = {
    pid: process.pid,
    databaseUrl,
    endpoint: aws.endpoint,
    region: aws.region,
    eventQueueUrl: aws.eventQueueUrl,
    taskQueueUrl: aws.taskQueueUrl,
    bucket: aws.bucket,
    specsDir,
    startedAt: new Date().toISOString(),
  };
  await writeFile(join(dataDir, DEV_FILE), JSON.stringify(dev));
  return dev;
}
