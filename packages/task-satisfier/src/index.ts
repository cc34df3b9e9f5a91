/** @stackseam/task-satisfier: runs task messages (Terraform, Lambda) and reports the outcome to the event queue. */
export { type AwsClientOverrides, awsClients } from "./aws-clients.js";
export { loadConfig, type TaskSatisfierConfig } from "./config.js";
export type { LambdaConfig, TerraformConfig, TerraformSource } from "./config-types.js";
export {
  ConfigError,
  isTransientAwsError,
  TASK_SATISFIER_ERROR_CODES,
  TaskSatisfierError,
  type TaskSatisfierErrorCode,
  TransientError,
} from "./errors.js";
export type { Deadline, Executor, ExecutorContext, ExecutorPlan, ExecutorResult } from "./executor.js";
export { type LambdaPayload, lambdaExecutor, lambdaPayload } from "./executors/lambda.js";
export {
  DEFAULT_DEADLINE_MARGIN_MS,
  DEFAULT_TERRAFORM_BIN,
  OUTPUT_TAIL_BYTES,
  terraformExecutor,
} from "./executors/terraform.js";
export { handler } from "./handler.js";
export {
  awsLambdaInvoker,
  functionErrorFrom,
  type InvokeOptions,
  type InvokeResult,
  type LambdaInvoker,
} from "./lambda-invoker.js";
export { localFunctionName, localLambdaInvoker } from "./local-invoker.js";
export { fitDescription, reportFor, sendReport } from "./report.js";
export {
  createTaskSatisfier,
  salvageIdentity,
  type TaskPlan,
  type TaskSatisfier,
  type TaskSatisfierOptions,
} from "./satisfier.js";
export { backendKey, sourceKey, terraformArgs, terraformVariables } from "./terraform-command.js";
export { relativeKey, safeDestination } from "./terraform-source.js";
