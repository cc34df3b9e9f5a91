/** @stackseam/core: the pure domain of Stackseam (specs, transitions, messages). No I/O. */

export { isCarriable, uncarriableReason } from "./carriable.js";
export type {
  AlsoRecorded,
  AppliedDecision,
  Decision,
  MachineRef,
  OutboundTask,
  UnappliedDecision,
} from "./decision.js";
export { addMs, formatDuration, parseDuration } from "./duration.js";
export * from "./errors.js";
export {
  FAILURE_SUMMARY_MAX,
  type FailureSummaryOptions,
  failureSummary,
  failureText,
  type PrintableOptions,
  printable,
} from "./failure-text.js";
export type { EventMessage } from "./generated/event-message.js";
export type {
  ActionSpec,
  AdvanceAction,
  LambdaConfig,
  LambdaTask,
  LocalSource,
  MachineSpec,
  NoopAction,
  S3Source,
  StateSpec,
  TaskSpec,
  TerraformConfig,
  TerraformSource,
  TerraformTask,
} from "./generated/machine-spec.js";
export type { Metadata as MetadataSpec, MetadataValue } from "./generated/metadata.js";
export { MACHINE_NAME, STACK_ID, STATE_NAME, TASK_NAME, VARIABLE_NAME } from "./generated/patterns.js";
export type { TaskMessage } from "./generated/task-message.js";
export type { TaskReport } from "./generated/task-report.js";
export type { GraphEdge, GraphFormat, GraphModel, GraphState } from "./graph.js";
export { machineGraph, machineGraphModel } from "./graph.js";
export { isoTime } from "./iso-time.js";
export { type JsonSyntaxProblem, jsonSyntaxProblem, malformedJsonReason } from "./json-syntax.js";
export type { Machine } from "./machine.js";
export { compileMachine } from "./machine.js";
export {
  changeAffects,
  DIFF_KINDS,
  DIFF_SUBJECTS,
  type DiffKind,
  type DiffSubject,
  describeActions,
  diffMachines,
  type MachineChange,
  type MachineDiff,
} from "./machine-diff.js";
export { canonicalSpec, machineVersion } from "./machine-version.js";
export type {
  EventParseResult,
  MetadataResult,
  TaskMessageParseResult,
  TaskReportParseResult,
} from "./messages.js";
export { parseEventMessage, parseTaskMessage, parseTaskReport, validateMetadata } from "./messages.js";
export { MAX_METADATA_BYTES, MAX_METADATA_KEYS, mergeMetadata, metadataGrowthProblem } from "./metadata.js";
export * from "./model.js";
export {
  NOTIFICATION_KINDS,
  type Notification,
  type NotificationBody,
  type NotificationKind,
  notificationText,
} from "./notifications.js";
export { MAX_OUTPUTS_BYTES } from "./outputs.js";
export { formatPath } from "./paths.js";
export { sanitizeText } from "./sanitize-text.js";
export { isTimeZone, nextOccurrence, scheduleProblem } from "./schedule.js";
export { sha256Hex } from "./sha256.js";
export type { ParseSpecOptions, SpecResult } from "./spec.js";
export { formatDiagnostic, parseSpec, parseSpecOrThrow } from "./spec.js";
export { MAX_SPEC_BYTES, MAX_SPEC_DEPTH, specTooLargeMessage } from "./spec-limits.js";
export { newStack } from "./stack.js";
export { closest, didYouMean } from "./suggest.js";
export {
  type BuiltTask,
  buildTaskMessage,
  MAX_DESCRIPTION_LENGTH,
  MAX_TASK_MESSAGE_BYTES,
  taskMessage,
  taskReport,
} from "./task-message.js";
export { type RetryPolicy, retryDelayMs, retryPolicy } from "./task-timing.js";
export { describeDue, timersOf, ttlDue, ttlFor } from "./timers.js";
export { initialTransition, type TransitionOptions, transition } from "./transition.js";
export { upgradeProblems } from "./upgrade.js";
