// Simulates scaling an environment to zero: its record stays, marked frozen.
import { readEnv, simulateWork, writeEnv } from "./lib/env-file.mjs";

/** Lambda-style handler: payload { stackId, metadata, args }. */
export async function handler({ stackId, metadata = {}, args = {} }) {
  await simulateWork(metadata, args);
  const env = await readEnv(stackId, args);
  if (!env) throw new Error(`cannot freeze ${stackId}: it was never provisioned (no envs/${stackId}.json)`);
  await writeEnv(stackId, args, { ...env, status: "frozen", updatedAt: new Date().toISOString() });
  return { status: "frozen" };
}
