// The queue ↔ function timing rule, computed once so no figure is repeated by hand.

/**
 * AWS's rule for a queue that triggers a Lambda function: a visibility timeout of at least six
 * times the function timeout plus the batching window, so a record is not handed to a second
 * invocation while the first one (and Lambda's own retries of a throttled invoke) may still hold it.
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** Visibility timeout (seconds) for a queue consumed by a function with this timeout and batching window. */
export function visibilityTimeoutSeconds(
  functionTimeoutSeconds: number,
  maxBatchingWindowSeconds = 0,
): number {
  if (
    !Number.isInteger(functionTimeoutSeconds) ||
    functionTimeoutSeconds < 1 ||
    functionTimeoutSeconds > 900
  ) {
    throw new RangeError(`a Lambda timeout is 1 to 900 whole seconds, got ${functionTimeoutSeconds}`);
  }
  if (
    !Number.isInteger(maxBatchingWindowSeconds) ||
    maxBatchingWindowSeconds < 0 ||
    maxBatchingWindowSeconds > 300
  ) {
    throw new RangeError(`a batching window is 0 to 300 whole seconds, got ${maxBatchingWindowSeconds}`);
  }
  // At most 6 × 900 + 300 s, well under SQS's 12-hour ceiling.
  return VISIBILITY_TIMEOUT_FACTOR * functionTimeoutSeconds + maxBatchingWindowSeconds;
}
