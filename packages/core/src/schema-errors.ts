import { SYSTEM_EVENTS } from "./model.js";
import { type PathSegment, pointerToPath, valueAt } from "./paths.js";
import { type SchemaError, type SchemaValidator, schemaErrors, validators } from "./schema-validators.js";
import { didYouMean } from "./suggest.js";

/** A schema violation in words, positioned by path; `atKey` when the key itself is the culprit. */
export interface SchemaIssue {
  path: PathSegment[];
  message: string;
  atKey: boolean;
}

/** Specs are YAML (mappings and lists); messages are JSON (objects and arrays). */
export type Dialect = "yaml" | "json";

interface Branches {
  discriminator: string;
  noun: string;
  branches: Record<string, SchemaValidator>;
}

// oneOf unions keyed by the schema title of the union: the discriminator tells which branch the
// author meant, so the errors reported are that branch's and not a mix of all of them.
const UNIONS: Record<string, Branches> = {
  TaskSpec: {
    discriminator: "executor",
    noun: "an executor",
    branches: { terraform: validators.terraformTask, lambda: validators.lambdaTask },
  },
  ActionSpec: {
    discriminator: "action",
    noun: "an action",
    branches: {
      advance: validators.advanceAction,
      "no-op": validators.noopAction,
      defer: validators.deferAction,
    },
  },
  TerraformSource: {
    discriminator: "type",
    noun: "a source type",
    branches: { s3: validators.s3Source, local: validators.localSource },
  },
};

const NAME_RULE = "use upper-case letters, digits and dashes";
const PATTERNS: Record<string, (value: string, path: PathSegment[]) => string> = {
  "^[A-Z0-9-]+$": (value, path) => {
    const kind = path[0] === "events" ? "event" : "state";
    if (kind === "event" && (SYSTEM_EVENTS as readonly string[]).includes(value)) {
      return `${value} is a system event: the engine always understands it, so do not declare it`;
    }
    return `${show(value)} is not a valid ${kind} name: ${NAME_RULE}${like(value, /[^A-Z0-9-]+/g, kind === "event" ? "LAUNCH" : "PROVISION")}`;
  },
  "^[A-Z0-9_-]+$": (value) =>
    `${show(value)} is not a valid event name: use upper-case letters, digits, underscores and dashes${like(value, /[^A-Z0-9_-]+/g, "LAUNCH")}`,
  "^[A-Za-z0-9][A-Za-z0-9._-]*$": (value) =>
    `${show(value)} is not a valid task name: use letters, digits, dots, underscores and dashes, starting with a letter or digit`,
  "^[A-Za-z][A-Za-z0-9_-]{0,127}$": (value, path) => {
    const what = path.includes("metadata") ? "metadata key" : "variable name";
    return `${show(value)} is not a valid ${what}: use letters, digits, underscores and dashes, starting with a letter (at most 128 characters), because it becomes a Terraform variable name`;
  },
  "^(?=[0-9])([0-9]+d)?([0-9]+h)?([0-9]+m(?!s))?([0-9]+s)?([0-9]+ms)?$": (value) =>
    `${show(value)} is not a duration: use whole numbers with units d, h, m, s or ms, largest first, like 90s, 20m, 2h, 3d or 1h30m`,
  "^[A-Za-z0-9][A-Za-z0-9._-]*\\.[A-Za-z_][A-Za-z0-9_-]*$": (value) =>
    `${show(value)} is not an output reference: use <task>.<output>, like network.vpc_id`,
  "^https?://": (value) => `${show(value)} is not an http(s) URL`,
  "^arn:": (value) => `${show(value)} is not an ARN (arn:aws:…)`,
  "^[A-Za-z_][A-Za-z0-9_]*$": (value) => `${show(value)} is not an environment variable name`,
  "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$": (value, path) => {
    const what = path.at(-1) === "machine" ? "machine name" : "stack id";
    return `${show(value)} is not a valid ${what}: use letters, digits, dots, underscores and dashes, starting with a letter or digit (at most 128 characters)`;
  },
};

// An example of a valid name, derived from the invalid one when that gives something sensible.
function like(value: string, invalid: RegExp, fallback: string): string {
  const suggestion = value
    .toUpperCase()
    .replace(invalid, "-")
    .replace(/^-+|-+$/g, "");
  return ` (like ${suggestion !== "" && suggestion.length <= 64 ? suggestion : fallback})`;
}

/** Translates ajv errors into sentences a person understands. */
export function explainSchemaErrors(
  errors: readonly SchemaError[],
  data: unknown,
  dialect: Dialect,
): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  const located = errors.map((error) => ({ error, path: pointerToPath(error.instancePath, data) }));

  // Unions first: everything at or under a failed union is replaced by the chosen branch's errors.
  const unionRoots: PathSegment[][] = [];
  for (const { error, path } of [...located].sort((a, b) => a.path.length - b.path.length)) {
    if (error.keyword !== "oneOf" || unionRoots.some((root) => isUnder(path, root))) continue;
    unionRoots.push(path);
    issues.push(...explainUnion(error, path, valueAt(data, path), dialect));
  }
  const anyOfPaths = located
    .filter(({ error }) => error.keyword === "anyOf")
    .map(({ error }) => error.schemaPath);

  for (const { error, path } of located) {
    if (unionRoots.some((root) => isUnder(path, root))) continue;
    if (anyOfPaths.some((schemaPath) => error.schemaPath.startsWith(`${schemaPath}/`))) continue;
    const issue = explainOne(error, path, data, dialect);
    if (issue) issues.push(issue);
  }
  return dedupe(issues);
}

function explainUnion(
  error: SchemaError,
  path: PathSegment[],
  value: unknown,
  dialect: Dialect,
): SchemaIssue[] {
  const title = error.parentSchema?.title;
  if (title === "MetadataValue" || title === "MetadataPatchValue") {
    return [{ path, message: explainMetadataValue(value, title === "MetadataPatchValue"), atKey: false }];
  }
  const union = typeof title === "string" ? UNIONS[title] : undefined;
  if (!union) return [{ path, message: "does not match any of the allowed shapes", atKey: false }];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return [
      {
        path,
        message: `expected ${typeName("object", dialect)}, got ${describe(value, dialect)}`,
        atKey: false,
      },
    ];
  }
  const choices = Object.keys(union.branches);
  const allowed = `use ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
  const chosen = (value as Record<string, unknown>)[union.discriminator];
  if (chosen === undefined) {
    return [{ path, message: `missing required key "${union.discriminator}" (${allowed})`, atKey: true }];
  }
  const validator = typeof chosen === "string" ? union.branches[chosen] : undefined;
  if (!validator || !Object.hasOwn(union.branches, chosen as string)) {
    const hint = typeof chosen === "string" ? didYouMean(chosen, choices) : "";
    return [
      {
        path: [...path, union.discriminator],
        message: `${show(chosen)} is not ${union.noun}${hint}: ${allowed}`,
        atKey: false,
      },
    ];
  }
  return explainSchemaErrors(schemaErrors(validator, value), value, dialect).map((issue) => ({
    ...issue,
    path: [...path, ...issue.path],
  }));
}

const SCALARS = "metadata values must be strings, numbers or booleans";
function explainMetadataValue(value: unknown, patch: boolean): string {
  const scalars = patch ? `${SCALARS} (or null, which removes the key)` : SCALARS;
  if (value === null) return `null is not allowed: ${scalars}`;
  if (typeof value === "object") return `nested values are not allowed: ${scalars}`;
  if (typeof value === "string")
    return `value is ${value.length} characters long; the limit is 16384 characters`;
  return `${describe(value, "json")} is not allowed: ${scalars}`;
}

function explainOne(
  error: SchemaError,
  path: PathSegment[],
  data: unknown,
  dialect: Dialect,
): SchemaIssue | null {
  const params = error.params;
  if (error.propertyName !== undefined) return explainKeyName(error, [...path, error.propertyName]);
  const value = valueAt(data, path);
  switch (error.keyword) {
    case "propertyNames":
    case "if":
    case "then":
    case "else":
      // The failing subschema reports the real problem; these only summarise it.
      return null;
    case "required":
      return { path, message: `missing required key "${String(params.missingProperty)}"`, atKey: true };
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      return { path: [...path, key], message: unknownKey(key, error.parentSchema), atKey: true };
    }
    case "anyOf":
      return { path, message: explainAnyOf(error.parentSchema), atKey: true };
    case "type":
      return {
        path,
        message: `expected ${typeName(params.type, dialect)}, got ${describe(value, dialect)}`,
        atKey: false,
      };
    case "const":
      if (path.length === 1 && path[0] === "version") {
        return {
          path,
          message: `unsupported spec version ${show(value)}: this engine reads version 1`,
          atKey: false,
        };
      }
      return { path, message: `expected ${show(params.allowedValue)}, got ${show(value)}`, atKey: false };
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map((v) => String(v));
      const hint = typeof value === "string" ? didYouMean(value, allowed) : "";
      return { path, message: `${show(value)} is not one of ${allowed.join(", ")}${hint}`, atKey: false };
    }
    case "pattern": {
      const describePattern = PATTERNS[String(params.pattern)];
      const text = String(value);
      return {
        path,
        message: describePattern
          ? describePattern(text, path)
          : `${show(value)} does not have the expected form`,
        atKey: false,
      };
    }
    case "maxLength":
      return {
        path,
        message: `value is ${stringLength(value)} characters long; the limit is ${String(params.limit)} characters`,
        atKey: false,
      };
    case "minLength":
      return {
        path,
        message:
          params.limit === 1
            ? "must not be empty"
            : `must be at least ${String(params.limit)} characters long`,
        atKey: false,
      };
    case "maxProperties":
      return {
        path,
        message: `has ${Object.keys(value as object).length} keys; the limit is ${String(params.limit)}`,
        atKey: true,
      };
    case "minimum":
      return { path, message: `must be at least ${String(params.limit)}, got ${show(value)}`, atKey: false };
    case "maximum":
      return { path, message: `must be at most ${String(params.limit)}, got ${show(value)}`, atKey: false };
    case "maxItems":
    case "minItems":
      return {
        path,
        message: `must have ${error.keyword === "maxItems" ? "at most" : "at least"} ${String(params.limit)} items`,
        atKey: false,
      };
    default:
      return { path, message: `is not valid here (${error.keyword} rule of the schema)`, atKey: false };
  }
}

function explainKeyName(error: SchemaError, path: PathSegment[]): SchemaIssue {
  const key = String(path.at(-1));
  const where = path.slice(0, -1);
  switch (error.keyword) {
    case "pattern": {
      if (key === "__proto__" || key === "constructor" || key === "prototype") {
        return { path, message: `"${key}" is not allowed as a key`, atKey: true };
      }
      const describePattern = PATTERNS[String(error.params.pattern)];
      return {
        path,
        message: describePattern ? describePattern(key, where) : `${show(key)} is not an allowed key here`,
        atKey: true,
      };
    }
    case "maxLength":
      return {
        path,
        message: `${show(key)} is too long: at most ${String(error.params.limit)} characters`,
        atKey: true,
      };
    case "not":
      if (key === "stack_id") {
        return {
          path,
          message: `"stack_id" is reserved: the engine passes the stack id to tasks as stack_id itself`,
          atKey: true,
        };
      }
      return { path, message: `${show(key)} is a reserved key`, atKey: true };
    default:
      return { path, message: `${show(key)} is not an allowed key here`, atKey: true };
  }
}

function unknownKey(key: string, parentSchema: Record<string, unknown> | undefined): string {
  const properties = Object.keys((parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
  const free =
    parentSchema?.patternProperties !== undefined &&
    Object.hasOwn(parentSchema.patternProperties as object, "^x-");
  const hint = didYouMean(key, properties);
  if (hint !== "") return `unknown key "${key}"${hint}`;
  if (properties.length === 0) return `unknown key "${key}": no keys are allowed here`;
  return `unknown key "${key}" (allowed keys: ${properties.join(", ")}${free ? ", and any key starting with x-" : ""})`;
}

function explainAnyOf(parentSchema: Record<string, unknown> | undefined): string {
  const branches = (parentSchema?.anyOf as Record<string, unknown>[] | undefined) ?? [];
  const keys = branches.flatMap((b) =>
    Array.isArray(b.required) && b.required.length === 1 ? b.required : [],
  );
  if (keys.length === branches.length && keys.length > 0) {
    const [first, ...rest] = keys.map((k) => `"${String(k)}"`);
    return rest.length === 1 && keys[1] === "action"
      ? `missing required key ${first} (or its legacy name ${rest[0]})`
      : `needs one of the keys ${[first, ...rest].join(", ")}`;
  }
  return "does not match any of the allowed shapes";
}

function typeName(type: unknown, dialect: Dialect): string {
  const names = Array.isArray(type) ? type.map(String) : String(type).split(",");
  const words = names.map((name) => {
    switch (name) {
      case "object":
        return dialect === "yaml" ? "a mapping (key: value pairs)" : "an object";
      case "array":
        return dialect === "yaml" ? "a list" : "an array";
      case "boolean":
        return names.length === 1 ? "true or false" : "boolean";
      case "integer":
        return "a whole number";
      default:
        return names.length === 1 || name === names[0] ? `a ${name}` : name;
    }
  });
  return words.length === 1 ? words[0]! : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

/** A short description of a value for messages ("a list", "the string \"yes\""). */
export function describe(value: unknown, dialect: Dialect): string {
  if (value === null || value === undefined) return dialect === "yaml" ? "nothing (an empty value)" : "null";
  if (Array.isArray(value)) return dialect === "yaml" ? "a list" : "an array";
  if (typeof value === "object") return dialect === "yaml" ? "a mapping" : "an object";
  if (typeof value === "string") return `the string ${show(value)}`;
  return `${typeof value === "number" ? "the number" : ""} ${String(value)}`.trim();
}

/** JSON-ish rendering of a value, truncated so hostile input cannot flood a message. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // JSON.stringify recurses: a value nested deeply enough exhausts the stack.
    return Array.isArray(value) ? "[…]" : "{…}";
  }
  if (text.length <= 80) return text;
  return `${text.slice(0, 77)}…${text.startsWith('"') ? '"' : ""}`;
}

function stringLength(value: unknown): number {
  return typeof value === "string" ? [...value].length : 0;
}

function isUnder(path: readonly PathSegment[], root: readonly PathSegment[]): boolean {
  return root.length <= path.length && root.every((segment, i) => path[i] === segment);
}

function dedupe(issues: SchemaIssue[]): SchemaIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const id = `${JSON.stringify(issue.path)}\u0000${issue.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
