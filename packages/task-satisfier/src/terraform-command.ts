import type { TaskMessage } from "@stackseam/core";
import type { TerraformConfig, TerraformSource } from "./config-types.js";

const VAR_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;

/** The part of the backend key that names the scripts: the S3 key as written, or the local path without leading `/` or `./`. */
export function sourceKey(source: TerraformSource): string {
  if (source.type === "s3") return source.key;
  return source.location.replace(/^(\.\/|\/)+/, "");
}

/** `<machine>/<stackId>/<source key>`: one Terraform state per stack and script set. */
export function backendKey(machine: string, stackId: string, source: TerraformSource): string {
  return `${machine}/${stackId}/${sourceKey(source)}`;
}

/**
 * The `-var` values in command-line order: `stack_id` first, then the stack metadata (filtered by
 * `metadataVariables` when set) not overridden by the task, then the task's `variables`.
 * `stack_id` is always the stack's id; a metadata or task value of that name is dropped.
 */
export function terraformVariables(
  stackId: string,
  metadata: TaskMessage["metadata"],
  config: TerraformConfig,
) {
  const taskVars = config.variables ?? {};
  const allowed = config.metadataVariables ? new Set(config.metadataVariables) : undefined;
  const vars: [string, string][] = [["stack_id", stackId]];
  for (const [name, value] of Object.entries(metadata)) {
    if (name === "stack_id" || !VAR_NAME.test(name)) continue;
    if (allowed && !allowed.has(name)) continue;
    if (Object.hasOwn(taskVars, name)) continue;
    vars.push([name, String(value)]);
  }
  for (const [name, value] of Object.entries(taskVars)) {
    if (name === "stack_id") continue;
    vars.push([name, String(value)]);
  }
  return vars;
}

/** The exact argument vectors (without the binary) of the two Terraform steps. */
export function terraformArgs(
  message: TaskMessage,
  config: TerraformConfig,
): { init: string[]; run: string[] } {
  const init = [
    "init",
    "-input=false",
    "-no-color",
    `-backend-config=key=${backendKey(message.machine, message.stackId, config.source)}`,
  ];
  const run = [config.action, "-auto-approve", "-input=false", "-no-color"];
  for (const [name, value] of terraformVariables(message.stackId, message.metadata, config)) {
    run.push("-var", `${name}=${value}`);
  }
  return { init, run };
}
