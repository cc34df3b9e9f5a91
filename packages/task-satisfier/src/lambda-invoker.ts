import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from "@aws-sdk/client-lambda";
import { isTransientAwsError, TaskSatisfierError, TransientError } from "./errors.js";

export type InvokeResult =
  | { ok: true; payload?: unknown }
  | { ok: false; errorType: string; errorMessage: string; trace?: string[] };

export interface InvokeOptions {
  /** Aborts the wait (the function itself may run on). */
  signal?: AbortSignal;
}

/**
 * Calls a function synchronously. A function error is a result (`ok: false`); throttling and
 * network trouble throw TransientError (retry later); anything else throws TaskSatisfierError.
 */
export interface LambdaInvoker {
  invoke(name: string, payload: unknown, qualifier?: string, options?: InvokeOptions): Promise<InvokeResult>;
}

const decoder = new TextDecoder();

function parsePayload(bytes: Uint8Array | undefined): unknown {
  if (!bytes || bytes.length === 0) return undefined;
  const text = decoder.decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Lambda's error payload shapes: Node `{errorType, errorMessage, trace}`, Python `{…, stackTrace}`. */
export function functionErrorFrom(
  payload: unknown,
  fallbackType: string,
): Extract<InvokeResult, { ok: false }> {
  if (typeof payload === "object" && payload !== null) {
    const p = payload as Record<string, unknown>;
    const trace = Array.isArray(p.trace) ? p.trace : Array.isArray(p.stackTrace) ? p.stackTrace : undefined;
    const result: Extract<InvokeResult, { ok: false }> = {
      ok: false,
      errorType: typeof p.errorType === "string" ? p.errorType : fallbackType,
      errorMessage: typeof p.errorMessage === "string" ? p.errorMessage : JSON.stringify(payload),
    };
    if (trace) result.trace = trace.map((line) => (typeof line === "string" ? line : JSON.stringify(line)));
    return result;
  }
  return {
    ok: false,
    errorType: fallbackType,
    errorMessage: typeof payload === "string" ? payload : "the function failed without an error payload",
  };
}

/** A LambdaInvoker over the AWS Lambda Invoke API (RequestResponse). */
export function awsLambdaInvoker(client: LambdaClient): LambdaInvoker {
  return {
    async invoke(name, payload, qualifier, options) {
      let res: InvokeCommandOutput;
      try {
        res = await client.send(
          new InvokeCommand({
            FunctionName: name,
            InvocationType: "RequestResponse",
            Payload: new TextEncoder().encode(JSON.stringify(payload)),
            ...(qualifier ? { Qualifier: qualifier } : {}),
          }),
          options?.signal ? { abortSignal: options.signal } : {},
        );
      } catch (err) {
        if (options?.signal?.aborted) throw err;
        if (isTransientAwsError(err)) {
          throw new TransientError(`invoking Lambda function ${name} failed transiently`, { cause: err });
        }
        const e = err instanceof Error ? err : new Error(String(err));
        throw new TaskSatisfierError(
          "INVOKE_FAILED",
          `invoking Lambda function ${name} failed: ${e.name}: ${e.message}`,
          {
            cause: err,
          },
        );
      }
      const body = parsePayload(res.Payload);
      if (res.FunctionError) return functionErrorFrom(body, res.FunctionError);
      return body === undefined ? { ok: true } : { ok: true, payload: body };
    },
  };
}
