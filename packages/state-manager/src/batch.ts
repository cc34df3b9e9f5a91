// Orchestration layer: an SQS batch as a unit. Records of one stack run in arrival order, stacks run
// concurrently, a failure returns the stack's later records too, and a batch where every record
// failed is thrown (so Lambda's retry and backoff apply to the invocation, as Powertools does).
import { StackseamError } from "@stackseam/core";
import type { SQSBatchResponse } from "aws-lambda";

/** Every record of the batch failed: thrown by the handler instead of returning them all. */
export class FullBatchFailureError extends StackseamError {
  readonly errors: readonly unknown[];

  constructor(errors: readonly unknown[]) {
    super(`all records of the batch failed (${errors.length} error${errors.length === 1 ? "" : "s"})`, {
      cause: errors[0],
    });
    this.errors = errors;
  }
}

/** How the batch runs its items: their identity, their ordering group and the work on one. */
export interface BatchPlan<T> {
  /** The SQS message id (the item's identifier in batchItemFailures). */
  idOf(item: T): string;
  /** Items with the same group run one after another in arrival order (one stack's records). */
  groupOf(item: T): string;
  /** At most this many groups run at once. */
  concurrency: number;
  /** Processes one item; throws only for a transient failure (the item is retried). */
  process(item: T): Promise<void>;
  /** Told about a failure and how many later items of its group are returned with it. */
  onFailure?(item: T, error: unknown, alsoReturned: number): void;
}

/** What a batch run left to retry, in arrival order, with the errors that caused it. */
export interface BatchOutcome {
  failed: Set<string>;
  errors: unknown[];
}

/** Groups items by key, keeping arrival order within each group and groups in first-seen order. */
export function groupInOrder<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return [...groups.values()];
}

/** Runs `work` over the groups with at most `limit` running at once. */
export async function runBounded<T>(groups: readonly T[], limit: number, work: (group: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      const group = groups[next++];
      if (group !== undefined) await work(group);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, groups.length)) }, worker));
}

/** Processes a batch by the plan; a failed item takes its group's later items with it. */
export async function runBatch<T>(items: readonly T[], plan: BatchPlan<T>): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { failed: new Set(), errors: [] };
  await runBounded(groupInOrder(items, plan.groupOf), plan.concurrency, async (group) => {
    for (let i = 0; i < group.length; i++) {
      const item = group[i]!;
      try {
        await plan.process(item);
      } catch (err) {
        // Later records of this stack must not overtake the failed one: return them too.
        const rest = group.slice(i);
        plan.onFailure?.(item, err, rest.length - 1);
        outcome.errors.push(err);
        for (const r of rest) outcome.failed.add(plan.idOf(r));
        return;
      }
    }
  });
  return outcome;
}

/** The partial batch response for the failed ids, in arrival order. */
export function batchResponse<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  failed: ReadonlySet<string>,
) {
  const response: SQSBatchResponse = {
    batchItemFailures: items.filter((r) => failed.has(idOf(r))).map((r) => ({ itemIdentifier: idOf(r) })),
  };
  return response;
}

/** Throws FullBatchFailureError when every record of a non-empty batch failed; else returns the response. */
export function unlessAllFailed(response: SQSBatchResponse, total: number, errors: readonly unknown[]) {
  if (total > 0 && response.batchItemFailures.length === total) throw new FullBatchFailureError(errors);
  return response;
}
