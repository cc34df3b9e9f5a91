// Simulates bringing a frozen environment back, with the stack's current image tag.
import { readEnv, simulateWork, writeEnv } from "./lib/env-file.mjs";

/** Lambda-style handler: payload { stackId, metadata, args }. */
export async function handler({ stackId, metadata = {}, args = {} }) {
  await simulateWork(metadata, args);
  const env = await readEnv(stackId, args);
  if (!env) throw new Error(`cannot thaw ${stackId}: it was never provisioned (no envs/${stackId}.json)`);
  const apiImageTag = metadata.apiImageTag ?? env.apiImageTag;
  await writeEnv(stackId, args, {
    ...env,
    status: "running",
    apiImageTag,
    updatedAt: new Date().toISOString(),
  });
  return { status: "running" };
}
