export const STATE_MANAGER_ERROR_CODES = [
  "CONFIG",
  "DATABASE",
  "SECRET",
  "MIGRATION",
  "MACHINE_SOURCE",
  "OUTBOX_SEND",
] as const;
export type StateManagerErrorCode = (typeof STATE_MANAGER_ERROR_CODES)[number];

/**
 * A failure of the State Manager's own machinery. Refused events and stale reports are not
 * errors (they are data in history); anything thrown while processing a record is transient and
 * the record is returned to SQS.
 */
export class StateManagerError extends Error {
  readonly code: StateManagerErrorCode;

  constructor(code: StateManagerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StateManagerError";
    this.code = code;
  }
}

/** The environment is incomplete or wrong; `problems` lists every issue found, not just the first. */
export class ConfigError extends StateManagerError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      "CONFIG",
      `State Manager configuration is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}
