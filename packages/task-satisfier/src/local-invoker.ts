import { stat } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { TaskSatisfierError } from "./errors.js";
import type { InvokeResult, LambdaInvoker } from "./lambda-invoker.js";

const FUNCTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,139}$/;

/** The function name inside an ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`), or the name itself. */
export function localFunctionName(name: string): string {
  const m = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(name);
  return m?.[1] ?? name;
}

async function findModule(dir: string, name: string): Promise<{ file: string; mtimeMs: number } | null> {
  for (const ext of [".mjs", ".js"]) {
    const file = resolve(dir, `${name}${ext}`);
    const rel = relative(dir, file);
    if (rel.startsWith("..") || isAbsolute(rel) || rel.includes("/")) return null;
    try {
      const info = await stat(file);
      if (info.isFile()) return { file, mtimeMs: info.mtimeMs };
    } catch {
      // try the next extension
    }
  }
  return null;
}

/** The promise's value, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

function errorResult(err: unknown): Extract<InvokeResult, { ok: false }> {
  if (err instanceof Error) {
    const result: Extract<InvokeResult, { ok: false }> = {
      ok: false,
      errorType: err.name || err.constructor.name || "Error",
      errorMessage: err.message,
    };
    if (err.stack) result.trace = err.stack.split("\n");
    return result;
  }
  return { ok: false, errorType: typeof err, errorMessage: String(err) };
}

/**
 * A LambdaInvoker that runs `<dir>/<name>.mjs` (or `.js`) in this process, calling its exported
 * `handler(payload)` and mapping a thrown error to errorType/errorMessage/trace as Lambda does.
 * For `stackseam dev`, `stackseam task run --functions` and tests. Names that are not plain function
 * names (path separators, `..`) are refused.
 */
export function localLambdaInvoker(dir: string): LambdaInvoker {
  const root = resolve(dir);
  return {
    async invoke(name, payload, _qualifier, options) {
      const fn = localFunctionName(name);
      if (!FUNCTION_NAME.test(fn) || fn.includes("..")) {
        throw new TaskSatisfierError(
          "INVALID_FUNCTION_NAME",
          `refused local Lambda function name ${JSON.stringify(name)}: only letters, digits, ".", "_" and "-" are allowed`,
        );
      }
      const found = await findModule(root, fn);
      if (!found) {
        throw new TaskSatisfierError(
          "FUNCTION_NOT_FOUND",
          `local Lambda function ${fn} not found: expected ${root}/${fn}.mjs or ${fn}.js`,
        );
      }
      // The mtime in the URL makes an edited handler load afresh in a long-running dev session.
      const url = `${pathToFileURL(found.file).href}?v=${Math.trunc(found.mtimeMs)}`;
      const mod = (await import(url)) as { handler?: unknown; default?: { handler?: unknown } };
      const handler = mod.handler ?? mod.default?.handler;
      if (typeof handler !== "function") {
        return {
          ok: false,
          errorType: "Runtime.HandlerNotFound",
          errorMessage: `${fn} does not export a handler function`,
        };
      }
      try {
        const call = Promise.resolve().then(() => handler(structuredClone(payload), { functionName: fn }));
        // A handler cannot be stopped in-process; the wait for it can (like a Lambda invoke that times out).
        const result: unknown = await untilAborted(call, options?.signal);
        // Lambda returns what JSON.stringify makes of the result.
        const json = JSON.stringify(result);
        return json === undefined ? { ok: true } : { ok: true, payload: JSON.parse(json) };
      } catch (err) {
        // Given up on, not failed: the caller reports that it did not answer in time.
        if (options?.signal?.aborted) throw err;
        return errorResult(err);
      }
    },
  };
}
