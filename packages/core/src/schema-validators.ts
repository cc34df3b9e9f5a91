import type { EventMessage } from "./generated/event-message.js";
import type { MachineSpec } from "./generated/machine-spec.js";
import type { Metadata as MetadataSpec } from "./generated/metadata.js";
import type { TaskMessage } from "./generated/task-message.js";
import type { TaskReport } from "./generated/task-report.js";
import * as generated from "./generated/validators.js";

/** One ajv error as the standalone validators report it (verbose mode). */
export interface SchemaError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  propertyName?: string;
  message?: string;
  parentSchema?: Record<string, unknown>;
  data?: unknown;
}

/** A precompiled validator: a type guard that leaves its errors on `.errors`. */
export interface SchemaValidator<T = unknown> {
  (data: unknown): data is T;
  errors?: SchemaError[] | null;
}

// The generated module is untyped JavaScript; these casts are its declared contract.
export const validators = {
  machineSpec: generated.validateMachineSpec as unknown as SchemaValidator<MachineSpec>,
  terraformTask: generated.validateTerraformTask as unknown as SchemaValidator,
  lambdaTask: generated.validateLambdaTask as unknown as SchemaValidator,
  advanceAction: generated.validateAdvanceAction as unknown as SchemaValidator,
  noopAction: generated.validateNoopAction as unknown as SchemaValidator,
  deferAction: generated.validateDeferAction as unknown as SchemaValidator,
  s3Source: generated.validateS3Source as unknown as SchemaValidator,
  localSource: generated.validateLocalSource as unknown as SchemaValidator,
  eventMessage: generated.validateEventMessage as unknown as SchemaValidator<EventMessage>,
  taskMessage: generated.validateTaskMessage as unknown as SchemaValidator<TaskMessage>,
  taskReport: generated.validateTaskReport as unknown as SchemaValidator<TaskReport>,
  metadata: generated.validateMetadata as unknown as SchemaValidator<MetadataSpec>,
} as const;

/** Runs a validator and returns its errors (empty when valid). */
export function schemaErrors(validator: SchemaValidator, data: unknown): SchemaError[] {
  return validator(data) ? [] : [...(validator.errors ?? [])];
}
