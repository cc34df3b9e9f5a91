// Simulates tearing an environment down: its record under <data-dir>/envs/ disappears.
import { removeEnv, simulateWork } from "./lib/env-file.mjs";

/** Lambda-style handler: payload { stackId, metadata, args }; destroying twice is fine. */
export async function handler({ stackId, metadata = {}, args = {} }) {
  await simulateWork(metadata, args);
  await removeEnv(stackId, args);
  return { status: "destroyed" };
}
