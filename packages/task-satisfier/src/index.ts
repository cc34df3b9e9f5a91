/** @stackseam/task-satisfier: runs task messages (Terraform, Lambda) and reports the outcome to the event queue. */
export { type AwsClientOverrides, awsClients } from "./aws-clients.js";
export { DEFAULT_HEARTBEAT_SECONDS, loadConfig, type TaskSatisfierConfig } from "./config.js";
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
  MAX_OUTPUT_JSON_BYTES,
  OUTPUT_TAIL_BYTES,
  terraformExecutor,
} from "./executors/terraform.js";
export { handler, runnerEnv } from "./handler.js";
export { type DeclaredBackend, declaredBackend, HclSyntaxError } from "./hcl-backend.js";
export { withHeartbeats } from "./heartbeats.js";
export {
  awsLambdaInvoker,
  functionErrorFrom,
  type InvokeOptions,
  type InvokeResult,
  type LambdaInvoker,
} from "./lambda-invoker.js";
export { localFunctionName, localLambdaInvoker } from "./local-invoker.js";
export {
  lambdaOutputs,
  MAX_OUTPUTS,
  MAX_OUTPUTS_BYTES,
  outputsProblem,
  type TaskOutputs,
  terraformOutputs,
} from "./outputs.js";
export { RUN_MARKER_VAR } from "./process-sweep.js";
export { fitDescription, heartbeatReport, reportFor, sendReport } from "./report.js";
export {
  clientToken,
  type EcsRunnerLauncherOptions,
  ecsRunnerLauncher,
  runTaskInput,
} from "./runner/ecs-launcher.js";
export {
  ECS_OVERRIDES_LIMIT,
  type LaunchResult,
  type MessageStore,
  type RunnerLauncher,
  readRunnerMessage,
  runnerEnvironment,
  TASK_MESSAGE_S3_VAR,
  TASK_MESSAGE_VAR,
} from "./runner/launcher.js";
export {
  defaultRunnerEntry,
  type LocalRunnerLauncherOptions,
  localRunnerLauncher,
} from "./runner/local-launcher.js";
export { DEFAULT_RUNNER_TIMEOUT_SECONDS, runnerMain } from "./runner/main.js";
export { DEFAULT_RUNNER_CONTAINER, type EcsRunnerSpec, parseRunnerSpec } from "./runner/runner-spec.js";
export {
  createTaskSatisfier,
  type RunTaskOptions,
  salvageIdentity,
  type TaskPlan,
  type TaskSatisfier,
  type TaskSatisfierOptions,
  taskDeadline,
} from "./satisfier.js";
export {
  BACKEND_OVERRIDE_FILE,
  type BackendPlan,
  type BackendSettings,
  planBackend,
  type S3BackendEndpoint,
  type StateBucket,
} from "./terraform-backend.js";
export {
  backendKey,
  DEFAULT_LOCK_TIMEOUT_SECONDS,
  normaliseKey,
  sourceKey,
  terraformArgs,
  terraformVariables,
} from "./terraform-command.js";
export { relativeKey, safeDestination } from "./terraform-source.js";
