import { type TaskMessage, VARIABLE_NAME } from "@stackseam/core";
import type { TerraformConfig, TerraformSource } from "./config-types.js";

/** How long apply/destroy wait for the state lock another run holds (`-lock-timeout`), by default. */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 300;

/** A key as S3 and Terraform's backends accept it: no leading or trailing `/`, no empty or `.` segments. */
export function normaliseKey(key: string): string {
  return key
    .split("/")
    .filter((segment) => segment !== "" && segment !== ".")
    .join("/");
}

/**
 * The part of the backend key that names the scripts: the S3 key, or the local path, normalised
 * (`infra/qa/` and `infra/qa` are the same scripts; `/opt/tf/qa` → `opt/tf/qa`).
 */
export function sourceKey(source: TerraformSource): string {
  return normaliseKey(source.type === "s3" ? source.key : source.location);
}

/** `<machine>/<stackId>/<source key>`: one Terraform state per stack and script set. */
export function backendKey(machine: string, stackId: string, source: TerraformSource): string {
  return normaliseKey(`${machine}/${stackId}/${sourceKey(source)}`);
}

/**
 * The `-var` values in command-line order: `stack_id` first, then the stack metadata (filtered by
 * `metadataVariables` when set), then the task's `variables`, then the message's `inputs` (values
 * from earlier tasks' outputs). A later source wins over an earlier one of the same name, which is
 * then left out. `stack_id` is always the stack's id; a value of that name from anywhere is dropped.
 */
export function terraformVariables(
  stackId: string,
  metadata: TaskMessage["metadata"],
  config: TerraformConfig,
  inputs: TaskMessage["inputs"] = {},
) {
  const taskVars = config.variables ?? {};
  const allowed = config.metadataVariables ? new Set(config.metadataVariables) : undefined;
  const vars: [string, string][] = [["stack_id", stackId]];
  for (const [name, value] of Object.entries(metadata)) {
    if (name === "stack_id" || !VARIABLE_NAME.test(name)) continue;
    if (allowed && !allowed.has(name)) continue;
    if (Object.hasOwn(taskVars, name) || Object.hasOwn(inputs, name)) continue;
    vars.push([name, String(value)]);
  }
  for (const [name, value] of Object.entries(taskVars)) {
    if (name === "stack_id" || Object.hasOwn(inputs, name)) continue;
    vars.push([name, String(value)]);
  }
  for (const [name, value] of Object.entries(inputs)) {
    if (name === "stack_id" || !VARIABLE_NAME.test(name)) continue;
    vars.push([name, String(value)]);
  }
  return vars;
}

export interface TerraformArgsOptions {
  /** `-backend-config` values for `init`, in order (the backend plan's). */
  backendConfig: ReadonlyArray<readonly [string, string]>;
  lockTimeoutSeconds?: number;
}

/** The exact argument vectors (without the binary) of the Terraform steps. */
export function terraformArgs(
  message: TaskMessage,
  config: TerraformConfig,
  opts: TerraformArgsOptions,
): { init: string[]; run: string[]; output: string[] } {
  const init = ["init", "-input=false", "-no-color"];
  for (const [name, value] of opts.backendConfig) init.push(`-backend-config=${name}=${value}`);
  const lockTimeout = opts.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS;
  const run = [config.action, "-auto-approve", "-input=false", "-no-color", `-lock-timeout=${lockTimeout}s`];
  for (const [name, value] of terraformVariables(message.stackId, message.metadata, config, message.inputs)) {
    run.push("-var", `${name}=${value}`);
  }
  return { init, run, output: ["output", "-json", "-no-color"] };
}
