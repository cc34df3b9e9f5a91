// Simulates provisioning a QA environment: waits, then records it under <data-dir>/envs/.
// metadata.failProvision=true makes it fail, to try TASK_ERROR and RETRY_FAILED_TASKS.
import { flag, readEnv, simulateWork, writeEnv } from "./lib/env-file.mjs";

/** Lambda-style handler: payload { stackId, metadata, args }. */
export async function handler({ stackId, metadata = {}, args = {} }) {
  await simulateWork(metadata, args);
  if (flag(metadata.failProvision)) {
    throw new Error(
      `provisioning ${stackId} failed: metadata failProvision=${metadata.failProvision} asks for a failure ` +
        "(fix it and retry with: send <stack> RETRY_FAILED_TASKS --meta failProvision=false)",
    );
  }
  const previous = await readEnv(stackId, args);
  const now = new Date().toISOString();
  const record = {
    stackId,
    status: "running",
    apiImageTag: metadata.apiImageTag ?? "latest",
    url: `https://${stackId}.qa.example.test`,
    provisionedAt: previous?.provisionedAt ?? now,
    updatedAt: now,
  };
  await writeEnv(stackId, args, record);
  // `outputs` become the task's outputs on the stack (`stackseam stacks outputs <stack> url`).
  return { url: record.url, status: record.status, outputs: { url: record.url } };
}
