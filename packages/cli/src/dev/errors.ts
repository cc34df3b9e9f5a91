/** Why `stackseam dev` could not start or stop cleanly. */
export type DevErrorCode =
  | "ALREADY_RUNNING"
  | "PORT_IN_USE"
  | "POSTGRES_INIT_FAILED"
  | "POSTGRES_START_FAILED"
  | "POSTGRES_USER"
  | "AWS_SETUP_FAILED"
  | "MIGRATION_FAILED"
  | "SPECS_DIR"
  | "FUNCTIONS_DIR"
  | "MISSING_DEPENDENCY";

/** A startup failure with a message meant for the person at the terminal. */
export class DevError extends Error {
  readonly code: DevErrorCode;

  constructor(code: DevErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DevError";
    this.code = code;
  }
}
