import { VARIABLE_NAME } from "@stackseam/core";
import type { LambdaConfig, TerraformConfig } from "./config-types.js";

export type ConfigParse<T> = { ok: true; config: T } | { ok: false; reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is string | number | boolean {
  return (
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
  );
}

function unknownKeys(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  problems: string[],
) {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push(`${where} has an unknown key "${key}"`);
  }
}

/**
 * Checks a terraform task's config again at run time: the message may come from an older spec
 * or a hand-written file, and a bad name here would become a bad command-line argument.
 */
export function parseTerraformConfig(config: unknown): ConfigParse<TerraformConfig> {
  const problems: string[] = [];
  if (!isRecord(config)) return { ok: false, reason: "invalid terraform config: it must be an object" };
  unknownKeys(config, ["action", "source", "variables", "metadataVariables"], "terraform config", problems);
  const { action, source, variables, metadataVariables } = config;
  if (action !== "apply" && action !== "destroy") {
    problems.push(`config.action must be "apply" or "destroy" (got ${JSON.stringify(action)})`);
  }
  let parsedSource: TerraformConfig["source"] | undefined;
  if (!isRecord(source)) {
    problems.push("config.source must be {type: s3, bucket, key} or {type: local, location}");
  } else if (source.type === "s3") {
    unknownKeys(source, ["type", "bucket", "key"], "config.source", problems);
    if (typeof source.bucket !== "string" || source.bucket === "")
      problems.push("config.source.bucket is required");
    if (typeof source.key !== "string" || source.key === "") problems.push("config.source.key is required");
    if (typeof source.bucket === "string" && typeof source.key === "string") {
      parsedSource = { type: "s3", bucket: source.bucket, key: source.key };
    }
  } else if (source.type === "local") {
    unknownKeys(source, ["type", "location"], "config.source", problems);
    if (typeof source.location !== "string" || source.location === "") {
      problems.push("config.source.location is required");
    } else {
      parsedSource = { type: "local", location: source.location };
    }
  } else {
    problems.push(`config.source.type must be "s3" or "local" (got ${JSON.stringify(source.type)})`);
  }
  let parsedVariables: Record<string, string | number | boolean> | undefined;
  if (variables !== undefined) {
    if (!isRecord(variables)) {
      problems.push("config.variables must be a flat map of names to strings, numbers or booleans");
    } else {
      parsedVariables = {};
      for (const [name, value] of Object.entries(variables)) {
        if (!VARIABLE_NAME.test(name))
          problems.push(`config.variables: "${name}" is not a valid variable name`);
        else if (!isScalar(value))
          problems.push(`config.variables.${name} must be a string, number or boolean`);
        else parsedVariables[name] = value;
      }
    }
  }
  let parsedFilter: string[] | undefined;
  if (metadataVariables !== undefined) {
    if (!Array.isArray(metadataVariables) || !metadataVariables.every((n) => typeof n === "string")) {
      problems.push("config.metadataVariables must be a list of metadata key names");
    } else {
      parsedFilter = metadataVariables as string[];
    }
  }
  if (problems.length > 0 || !parsedSource || (action !== "apply" && action !== "destroy")) {
    return { ok: false, reason: `invalid terraform config: ${problems.join("; ")}` };
  }
  const parsed: TerraformConfig = { action, source: parsedSource };
  if (parsedVariables) parsed.variables = parsedVariables;
  if (parsedFilter) parsed.metadataVariables = parsedFilter;
  return { ok: true, config: parsed };
}

/** Checks a lambda task's config at run time. */
export function parseLambdaConfig(config: unknown): ConfigParse<LambdaConfig> {
  if (!isRecord(config)) return { ok: false, reason: "invalid lambda config: it must be an object" };
  const problems: string[] = [];
  unknownKeys(config, ["name", "qualifier", "args"], "lambda config", problems);
  const { name, qualifier, args } = config;
  if (typeof name !== "string" || name === "")
    problems.push("config.name (function name or ARN) is required");
  if (qualifier !== undefined && (typeof qualifier !== "string" || qualifier === "")) {
    problems.push("config.qualifier must be a version or alias name");
  }
  if (args !== undefined && !isRecord(args)) problems.push("config.args must be an object");
  if (problems.length > 0 || typeof name !== "string") {
    return { ok: false, reason: `invalid lambda config: ${problems.join("; ")}` };
  }
  const parsed: LambdaConfig = { name };
  if (typeof qualifier === "string") parsed.qualifier = qualifier;
  if (isRecord(args)) parsed.args = args;
  return { ok: true, config: parsed };
}
