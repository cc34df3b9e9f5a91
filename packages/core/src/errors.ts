import type { Diagnostic } from "./model.js";

/** The base of every Stackseam error: `name` is the class's name and `cause` is kept. */
export class StackseamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export const CORE_ERROR_CODES = ["INVALID_SPEC", "UNKNOWN_TASK", "MACHINE_MISMATCH"] as const;
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

/** A misuse of a core API by a caller outside a transition; expected outcomes are returned as data instead. */
export class CoreError extends StackseamError {
  readonly code: CoreErrorCode;

  constructor(code: CoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Thrown by `parseSpecOrThrow` when a spec has errors; carries every diagnostic. */
export class SpecError extends CoreError {
  readonly diagnostics: readonly Diagnostic[];

  constructor(message: string, diagnostics: readonly Diagnostic[], options?: { cause?: unknown }) {
    super("INVALID_SPEC", message, options);
    this.diagnostics = diagnostics;
  }
}

/** A task message was asked for a task the machine does not define, or that cannot be sent. */
export class UnknownTaskError extends CoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("UNKNOWN_TASK", message, options);
  }
}

/** A stack was paired with a machine it does not run. */
export class MachineMismatchError extends CoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MACHINE_MISMATCH", message, options);
  }
}
