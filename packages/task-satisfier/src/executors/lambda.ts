import type { TaskMessage } from "@stackseam/core";
import { TransientError } from "../errors.js";
import {
  deadlineLabel,
  type Executor,
  type ExecutorContext,
  type ExecutorPlan,
  type ExecutorResult,
  raiseHint,
} from "../executor.js";
import type { LambdaInvoker } from "../lambda-invoker.js";
import { lambdaOutputs } from "../outputs.js";
import { parseLambdaConfig } from "../task-config.js";

export interface LambdaExecutorOptions {
  invoker: LambdaInvoker;
  /** Stop waiting this long before the deadline, so the report can still be sent. */
  deadlineMarginMs: number;
}

/**
 * What a task function receives: `args` only when the task's config has some, `inputs` only when
 * the message carries values from earlier tasks' outputs.
 */
export interface LambdaPayload {
  stackId: string;
  metadata: TaskMessage["metadata"];
  args?: Record<string, unknown>;
  inputs?: NonNullable<TaskMessage["inputs"]>;
}

/** The payload a task function receives. */
export function lambdaPayload(task: TaskMessage, args: Record<string, unknown> | undefined): LambdaPayload {
  const payload: LambdaPayload = { stackId: task.stackId, metadata: task.metadata };
  if (args !== undefined) payload.args = args;
  if (task.inputs !== undefined) payload.inputs = task.inputs;
  return payload;
}

/** Invokes `config.name` synchronously; a FunctionError becomes a failure carrying the function's error. */
export function lambdaExecutor(opts: LambdaExecutorOptions): Executor {
  function plan(task: TaskMessage): ExecutorPlan {
    const parsed = parseLambdaConfig(task.config);
    if (!parsed.ok) return { ok: false, description: parsed.reason };
    const { name, qualifier, args } = parsed.config;
    return {
      ok: true,
      plan: {
        executor: "lambda",
        functionName: name,
        ...(qualifier ? { qualifier } : {}),
        invocationType: "RequestResponse",
        payload: lambdaPayload(task, args),
      },
    };
  }

  async function run(task: TaskMessage, ctx: ExecutorContext): Promise<ExecutorResult> {
    const parsed = parseLambdaConfig(task.config);
    if (!parsed.ok) return { ok: false, description: parsed.reason };
    const { name, qualifier, args } = parsed.config;
    const budget = Math.floor(ctx.deadline.remainingMs() - opts.deadlineMarginMs);
    if (budget <= 0) {
      return {
        ok: false,
        description: `not started: only ${(ctx.deadline.remainingMs() / 1000).toFixed(1)} s left before ${deadlineLabel(ctx.deadline)} and ${(opts.deadlineMarginMs / 1000).toFixed(1)} s are kept back (TERRAFORM_DEADLINE_MARGIN_MS); ${raiseHint(ctx.deadline)}`,
      };
    }
    const timeout = AbortSignal.timeout(budget);
    const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
    ctx.logger.info("invoking lambda", { functionName: name, qualifier });
    let result: Awaited<ReturnType<LambdaInvoker["invoke"]>>;
    try {
      result = await opts.invoker.invoke(name, lambdaPayload(task, args), qualifier, { signal });
    } catch (err) {
      if (err instanceof TransientError) throw err;
      if (ctx.signal?.aborted) {
        return {
          ok: false,
          description: `Lambda function ${name}: stopped waiting (${String(ctx.signal.reason)}); it may still be running`,
        };
      }
      if (signal.aborted) {
        return {
          ok: false,
          description: `Lambda function ${name} did not answer before ${deadlineLabel(ctx.deadline)} (gave up after ${(budget / 1000).toFixed(1)} s; it may still be running)`,
        };
      }
      return { ok: false, description: err instanceof Error ? err.message : String(err) };
    }
    if (result.ok) {
      const outputs = lambdaOutputs(result.payload);
      if (outputs === null) return { ok: true, output: `Lambda function ${name} completed` };
      if (!outputs.ok) return { ok: false, description: `Lambda function ${name}: ${outputs.description}` };
      return { ok: true, output: `Lambda function ${name} completed`, outputs: outputs.outputs };
    }
    const trace = result.trace?.length ? `\n${result.trace.join("\n")}` : "";
    ctx.logger.warn("lambda function error", { functionName: name, errorType: result.errorType });
    return {
      ok: false,
      description: `Lambda function ${name} failed: ${result.errorType}: ${result.errorMessage}${trace}`,
    };
  }

  return { run, plan };
}
