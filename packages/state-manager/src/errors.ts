import { StackseamError } from "@stackseam/core";

export const STATE_MANAGER_ERROR_CODES = [
  "CONFIG",
  "DATABASE",
  "SECRET",
  "MIGRATION",
  "MACHINE_SOURCE",
  "OUTBOX_SEND",
  "INVARIANT",
] as const;
export type StateManagerErrorCode = (typeof STATE_MANAGER_ERROR_CODES)[number];

/**
 * A failure of the State Manager's own machinery, one subclass per kind. Refused events and stale
 * reports are not errors (they are data in history); anything thrown while processing a record is
 * transient and the record is returned to SQS.
 */
export abstract class StateManagerError extends StackseamError {
  abstract readonly code: StateManagerErrorCode;
}

/** The environment is incomplete or wrong; `problems` lists every issue found, not just the first. */
export class ConfigError extends StateManagerError {
  readonly code = "CONFIG";
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(
      `State Manager configuration is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      options,
    );
    this.problems = problems;
  }
}

/** Postgres could not be reached, or a statement failed. */
export class DatabaseError extends StateManagerError {
  readonly code = "DATABASE";
}

/** The database secret could not be read or does not hold a usable connection. */
export class SecretError extends StateManagerError {
  readonly code = "SECRET";
}

/** A migration could not be applied, or the applied ones disagree with the files. */
export class MigrationError extends StateManagerError {
  readonly code = "MIGRATION";
}

/** The machine specs could not be listed or read (S3, the file system, the versions table). */
export class MachineSourceError extends StateManagerError {
  readonly code = "MACHINE_SOURCE";
}

/** Task messages could not be sent to the task queue (or SQS refused some). */
export class OutboxSendError extends StateManagerError {
  readonly code = "OUTBOX_SEND";
}

/** Something that cannot happen did: a bug, never the input's fault. */
export class InvariantError extends StateManagerError {
  readonly code = "INVARIANT";
}
