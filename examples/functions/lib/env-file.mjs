// Shared by the example functions: where a simulated environment lives and how long "work" takes.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The folder holding one JSON file per simulated environment. */
export function envsDir(args) {
  const dataDir = args?.dataDir ?? process.env.STACKSEAM_DATA_DIR ?? ".stackseam";
  return resolve(dataDir, "envs");
}

/** The file for a stack; refuses ids that could escape the folder (they come from publishers). */
export function envFile(stackId, args) {
  if (typeof stackId !== "string" || !SAFE_ID.test(stackId)) {
    throw new Error(`refusing stack id ${JSON.stringify(stackId)}: not a safe file name`);
  }
  return join(envsDir(args), `${stackId}.json`);
}

/** Metadata values arrive as strings from the CLI (`--meta x=true`), so accept both forms. */
export function flag(value) {
  return value === true || value === "true" || value === "1" || value === 1;
}

/** Simulated work: metadata.delayMs, else args.delayMs, else 200 ms; 0 means instant. */
export async function simulateWork(metadata, args) {
  const raw = metadata?.delayMs ?? args?.delayMs ?? 200;
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms < 0)
    throw new Error(`delayMs must be a non-negative number, got ${JSON.stringify(raw)}`);
  if (ms > 0) await new Promise((done) => setTimeout(done, ms));
}

/** Reads the environment's record, or null when none was provisioned. */
export async function readEnv(stackId, args) {
  try {
    return JSON.parse(await readFile(envFile(stackId, args), "utf8"));
  } catch (err) {
    if (err?.code === "ENOENT") return null;
    throw err;
  }
}

/** Writes the environment's record (whole-file replace). */
export async function writeEnv(stackId, args, record) {
  await mkdir(envsDir(args), { recursive: true });
  await writeFile(envFile(stackId, args), `${JSON.stringify(record, null, 2)}\n`);
}

/** Removes the environment's record; removing a missing one is fine (destroy is idempotent). */
export async function removeEnv(stackId, args) {
  await rm(envFile(stackId, args), { force: true });
}
