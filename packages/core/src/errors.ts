import type { Diagnostic } from "./model.js";

export const CORE_ERROR_CODES = ["INVALID_SPEC", "UNKNOWN_TASK", "MACHINE_MISMATCH"] as const;
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

/** A programming or configuration error inside the core; expected outcomes are returned as data instead. */
export class CoreError extends Error {
  readonly code: CoreErrorCode;

  constructor(code: CoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CoreError";
    this.code = code;
  }
}

/** Thrown by `parseSpecOrThrow` when a spec has errors; carries every diagnostic. */
export class SpecError extends CoreError {
  readonly diagnostics: readonly Diagnostic[];

  constructor(message: string, diagnostics: readonly Diagnostic[], options?: { cause?: unknown }) {
    super("INVALID_SPEC", message, options);
    this.name = "SpecError";
    this.diagnostics = diagnostics;
  }
}
