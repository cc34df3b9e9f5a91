import { isCarriable, malformedJsonReason, type TaskReport } from "@stackseam/core";

export type TaskOutputs = NonNullable<TaskReport["outputs"]>;

/** The most a report's outputs may take, serialised as JSON (UTF-8 bytes); the State Manager checks it too. */
export const MAX_OUTPUTS_BYTES = 65_536;
/** The most outputs one report may carry (the report schema's `maxProperties`). */
export const MAX_OUTPUTS = 200;

const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;
const utf8 = new TextEncoder();

export type OutputsResult = { ok: true; outputs: TaskOutputs } | { ok: false; description: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Outputs from `terraform output -json` (`{name: {value, type, sensitive}}`): a sensitive output
 * keeps only its name, so its value never leaves the run.
 */
export function terraformOutputs(json: string): OutputsResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // Not JSON.parse's message: it quotes the text around the error, which may be a sensitive value.
    return {
      ok: false,
      description: `terraform output -json printed something that is not JSON (${malformedJsonReason(json)})`,
    };
  }
  if (!isRecord(parsed)) return { ok: false, description: "terraform output -json did not print an object" };
  const outputs: TaskOutputs = {};
  for (const [name, entry] of Object.entries(parsed)) {
    if (!isRecord(entry)) {
      return {
        ok: false,
        description: `terraform output -json: output ${JSON.stringify(name)} is not an object`,
      };
    }
    outputs[name] =
      entry.sensitive === true ? { sensitive: true } : { value: toJson(entry.value), sensitive: false };
  }
  return { ok: true, outputs };
}

type OutputValue = Extract<TaskOutputs[string], { sensitive: false }>["value"];
// JSON already: only `undefined` (no value at all) needs a stand-in.
const toJson = (v: unknown): OutputValue => (v === undefined ? null : (v as OutputValue));

/**
 * Outputs from a Lambda task's result: `{ "outputs": { "<name>": <any JSON>, … } }`. Every value
 * is reported as non-sensitive (a function should not return secrets). No `outputs` key: none.
 */
export function lambdaOutputs(result: unknown): OutputsResult | null {
  if (!isRecord(result) || !Object.hasOwn(result, "outputs")) return null;
  const raw = result.outputs;
  if (!isRecord(raw)) {
    return {
      ok: false,
      description: 'the function\'s result has "outputs" that is not an object of names to values',
    };
  }
  const outputs: TaskOutputs = {};
  for (const [name, value] of Object.entries(raw)) {
    outputs[name] = { value: toJson(value), sensitive: false };
  }
  return { ok: true, outputs };
}

/** Why outputs cannot travel in a report (names, count, text, size), or null when they can. */
export function outputsProblem(outputs: TaskOutputs): string | null {
  const names = Object.keys(outputs);
  const badName = names.find((n) => !OUTPUT_NAME.test(n));
  if (badName !== undefined) {
    return `output name ${JSON.stringify(badName.slice(0, 200))} cannot be reported: names are letters, digits, "_" and "-", starting with a letter or "_", at most 128 characters`;
  }
  if (names.length > MAX_OUTPUTS) {
    return `the task has ${names.length} outputs; a report carries at most ${MAX_OUTPUTS}`;
  }
  const uncarriable = names.find((n) => !carriableValue(outputs[n]));
  if (uncarriable !== undefined) {
    return `output ${uncarriable} holds text that SQS or Postgres cannot carry (NUL, an unpaired surrogate, U+FFFE/U+FFFF or a control character); encode it (base64) or mark it sensitive`;
  }
  const bytes = utf8.encode(JSON.stringify(outputs)).length;
  if (bytes > MAX_OUTPUTS_BYTES) {
    const largest = names
      .map((n) => ({ n, size: utf8.encode(JSON.stringify(outputs[n])).length }))
      .sort((a, b) => b.size - a.size)
      .slice(0, 3)
      .map(({ n, size }) => `${n} (${size} bytes)`)
      .join(", ");
    return `the task's outputs take ${bytes} bytes as JSON, over the ${MAX_OUTPUTS_BYTES}-byte limit (MAX_OUTPUTS_BYTES); the largest: ${largest}. Output less (an id or a URL rather than a whole document) or mark big values sensitive`;
  }
  return null;
}

function carriableValue(v: unknown, depth = 0): boolean {
  if (typeof v === "string") return isCarriable(v);
  if (v === null || typeof v !== "object") return true;
  if (depth > 64) return false;
  const entries = Array.isArray(v) ? v.map((x) => ["", x] as const) : Object.entries(v);
  return entries.every(([k, x]) => isCarriable(k) && carriableValue(x, depth + 1));
}
