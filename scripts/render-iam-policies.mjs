#!/usr/bin/env node
// Fills the placeholders (${NAME}) of the policies in iam-policies/ and writes the rendered
// documents to an output folder, ready for `aws iam put-role-policy --policy-document file://…`.
//
//   node scripts/render-iam-policies.mjs [--out release/iam-policies] [--only state-manager,task-satisfier]
//     --EVENT_QUEUE_ARN arn:aws:sqs:… --TASK_QUEUE_ARN … (or the same names as environment variables)
//
// A value given as an argument wins over the environment. List placeholders (FUNCTION_ARNS and the
// other *_ARNS) take a comma-separated value and become a JSON array. Nothing is written, and the exit code is 1, when
// any placeholder of a selected policy has no value; the message names each one and its files.
// IAM's own policy variables (${aws:username}) are lower-case and are left alone.
//
// These templates are the one definition of the functions' IAM: the CDK app in deploy/ renders the
// same files with its own resources' ARNs (deploy/src/policies.ts). Templates in iam-policies/pending/
// are for calls the code does not make yet; they are never rendered (test/release/iam-drift.int.test.ts
// says when one must move up).
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PLACEHOLDER = /\$\{([A-Z][A-Z0-9_]*)\}/g;
const WHOLE = /^\$\{([A-Z][A-Z0-9_]*)\}$/;

/** Placeholders whose value is a list: a string that is exactly the placeholder becomes an array. */
export const LIST_PLACEHOLDERS = new Set([
  "FUNCTION_ARNS",
  "NOTIFICATION_TOPIC_ARNS",
  "EVENT_BUS_ARNS",
  "WEBHOOK_SECRET_ARNS",
  "ECS_TASK_DEFINITION_ARNS",
  "ECS_PASS_ROLE_ARNS",
]);

/**
 * A Lambda function ARN as IAM matches it on Invoke: unqualified (`…:function:name`, which allows
 * only unqualified calls), with one version or alias (`…:function:name:live`), or every qualifier
 * (`…:function:name:*`). A task with `qualifier: live` needs the second or third form.
 */
export const FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-\d:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\*|\$LATEST|[A-Za-z0-9_-]{1,128}))?$/;

/** Per-placeholder sanity checks: a typo here would otherwise surface as AccessDenied in production. */
export function checkValue(name, value) {
  const items = LIST_PLACEHOLDERS.has(name) ? splitList(value) : [value];
  if (LIST_PLACEHOLDERS.has(name) && items.length === 0) return `${name} needs at least one value`;
  for (const item of items) {
    if ((name.endsWith("_ARN") || name.endsWith("_ARNS")) && !item.startsWith("arn:")) {
      return `${name} must be an ARN (arn:…), got ${JSON.stringify(item)}`;
    }
  }
  if (name === "FUNCTION_ARNS") {
    const bad = items.find((item) => !FUNCTION_ARN.test(item));
    if (bad !== undefined)
      return `FUNCTION_ARNS: ${JSON.stringify(bad)} is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>|:*])`;
  }
  if (name === "ACCOUNT_ID" && !/^\d{12}$/.test(value))
    return `ACCOUNT_ID must be 12 digits, got ${JSON.stringify(value)}`;
  if (name === "REGION" && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(value))
    return `REGION looks wrong: ${JSON.stringify(value)}`;
  if (name.endsWith("_BUCKET") && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value)) {
    return `${name} is not an S3 bucket name: ${JSON.stringify(value)}`;
  }
  return null;
}

function splitList(value) {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Every placeholder name used in a policy text. */
export function placeholdersIn(text) {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))].sort();
}

/** Replaces placeholders in a parsed policy; string-level, so a value can never inject JSON. */
export function renderPolicy(doc, values) {
  const walk = (node) => {
    if (typeof node === "string") {
      const whole = WHOLE.exec(node);
      if (whole && LIST_PLACEHOLDERS.has(whole[1]) && values[whole[1]] !== undefined) {
        const items = splitList(values[whole[1]]);
        return items.length === 1 ? items[0] : items;
      }
      return node.replace(PLACEHOLDER, (m, name) => (values[name] !== undefined ? values[name] : m));
    }
    // A list placeholder inside an array splices its items into that array.
    if (Array.isArray(node))
      return node.flatMap((n) => (typeof n === "string" ? [walk(n)].flat() : [walk(n)]));
    if (node && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
    }
    return node;
  };
  return walk(doc);
}

/** Parses `--NAME value` / `--NAME=value` pairs plus the script's own options. */
export function parseCliArgs(argv) {
  const values = {};
  const options = { out: join(root, "release/iam-policies"), src: join(root, "iam-policies"), only: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const m = /^--([A-Za-z][A-Za-z0-9_]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(arg)} (expected --NAME value)`);
    const key = m[1] ?? "";
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new Error(`--${key} needs a value`);
      i++;
    }
    if (key === "out" || key === "src") options[key] = resolve(value);
    else if (key === "only") options.only = splitList(value);
    else if (/^[A-Z][A-Z0-9_]*$/.test(key)) values[key] = value;
    else throw new Error(`unknown option --${key}`);
  }
  return { values, options };
}

/** Renders the selected policies; returns {written} or {problems} (nothing is written on problems). */
export async function renderPolicies({ src, out, only, values, env = process.env }) {
  const files = (await readdir(src))
    .filter((f) => f.endsWith(".json"))
    .filter((f) => !only || only.includes(basename(f, ".json")))
    .sort();
  if (only) {
    const unknown = only.filter((n) => !files.includes(`${n}.json`));
    if (unknown.length > 0) return { problems: [`no such policy: ${unknown.join(", ")}`] };
  }
  const problems = [];
  const missing = new Map();
  const rendered = [];
  const resolved = {};
  for (const file of files) {
    const text = await readFile(join(src, file), "utf8");
    for (const name of placeholdersIn(text)) {
      const value = values[name] ?? env[name];
      if (value === undefined) {
        missing.set(name, [...(missing.get(name) ?? []), file]);
        continue;
      }
      resolved[name] = value;
    }
    rendered.push({ file, doc: JSON.parse(text) });
  }
  for (const [name, inFiles] of [...missing].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    problems.push(
      `${name} has no value (used in ${inFiles.join(", ")}): pass --${name} <value> or set ${name}`,
    );
  }
  for (const [name, value] of Object.entries(resolved)) {
    const p = checkValue(name, value);
    if (p) problems.push(p);
  }
  if (problems.length > 0) return { problems };
  const outputs = rendered.map(({ file, doc }) => ({
    file,
    text: `${JSON.stringify(renderPolicy(doc, resolved), null, 2)}\n`,
  }));
  // Defence in depth: a placeholder the scan missed (e.g. inside a key) must not reach AWS.
  for (const { file, text } of outputs) {
    const left = placeholdersIn(text);
    if (left.length > 0) problems.push(`${file}: placeholders left after rendering: ${left.join(", ")}`);
  }
  if (problems.length > 0) return { problems };
  await mkdir(out, { recursive: true });
  for (const { file, text } of outputs) await writeFile(join(out, file), text);
  return { written: outputs.map((o) => join(out, o.file)) };
}

async function main() {
  const { values, options } = parseCliArgs(process.argv.slice(2));
  const result = await renderPolicies({ ...options, values });
  if (result.problems) {
    console.error("render-iam-policies: nothing written:");
    for (const p of result.problems) console.error(`  - ${p}`);
    process.exit(1);
  }
  for (const f of result.written) console.log(`wrote ${f}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((err) => {
    console.error(`render-iam-policies: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
