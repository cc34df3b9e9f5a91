import type { Stack, StackTask } from "@stackseam/core";
import { getStack, type HistoryEntry } from "@stackseam/state-manager";
import { type FeedMode, openStackFeed } from "./feed.js";
import { type ProgressLine, ProgressLines } from "./progress.js";
import {
  type EventRow,
  eventRowOf,
  historyAfter,
  lastApplied,
  latestHistoryId,
  rowsOfEvent,
} from "./reads.js";
import { judge, REMOVED, type Verdict } from "./settle.js";
import { checkWantedState } from "./state-check.js";

/** How a wait ended. */
export const WAIT_RESULTS = ["settled", "failed", "removed", "timeout", "refused", "interrupted"] as const;
export type WaitResultKind = (typeof WAIT_RESULTS)[number];

/** Exit codes a pipeline branches on (0–2 keep their meaning across the CLI). */
export const WAIT_EXIT = {
  settled: 0,
  failed: 3,
  removed: 4,
  timeout: 5,
  refused: 6,
  interrupted: 130,
} as const satisfies Record<WaitResultKind, number>;

export interface WaitOptions {
  databaseUrl: string;
  stackId: string;
  /** The key of the event the wait follows (send --wait, wait --event-id): refused ends the wait. */
  eventKey?: string;
  /** A state the stack must settle in, or `removed`. */
  state?: string;
  /** Give up after this long (Infinity: never). */
  timeoutMs: number;
  /** One call per progress line, as things happen. */
  onProgress?(line: ProgressLine): void;
  /** A line about the wait itself (a fallback to polling). */
  onNote?(text: string): void;
  signal?: AbortSignal;
  safetyPollMs?: number;
  pollMs?: number;
}

export interface WaitResult {
  result: WaitResultKind;
  stackId: string;
  /** The stack when the wait ended (null: it does not exist). */
  stack: Stack | null;
  /** The tasks that failed for good (result `failed`). */
  failed: StackTask[];
  /** The followed event's row that refused it (result `refused`), else its own row when seen. */
  event: EventRow | null;
  /** The row that removed the stack (result `removed`). */
  removal: HistoryEntry | null;
  /** What the wait was still waiting for (results `timeout` and `interrupted`). */
  waitingFor: string | null;
  waitedMs: number;
  mode: FeedMode;
  /** Statements the wait sent to the database. */
  queries: number;
}

/**
 * Blocks until the stack is settled as asked, a task failed for good, the stack was removed, the
 * followed event was refused, the timeout passed or the signal aborted. Sleeps on LISTEN between
 * reads; each wake-up for its stack costs two or three index lookups.
 */
export async function waitForStack(opts: WaitOptions): Promise<WaitResult> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const feed = await openStackFeed(opts.databaseUrl, opts.stackId, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onNote ? { onNote: opts.onNote } : {}),
    ...(opts.safetyPollMs !== undefined ? { safetyPollMs: opts.safetyPollMs } : {}),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
  });
  const { db } = feed;
  const progress = new ProgressLines();
  const followedRows: EventRow[] = [];
  const key = opts.eventKey;
  try {
    // LISTEN came first: a row committed from here on wakes us, so none is missed between reads.
    let cursor = await latestHistoryId(db, opts.stackId);
    if (key !== undefined) {
      // Already processed (send --wait on a fast system): progress starts at the event's own row.
      followedRows.push(...(await rowsOfEvent(db, opts.stackId, key)));
      const own = followedRows.find((r) => r.eventKey === key);
      if (own) cursor = Math.min(cursor, own.id - 1);
      followedRows.splice(0);
    }
    let first = true;
    for (;;) {
      const rows = await historyAfter(db, opts.stackId, cursor);
      if (rows.length > 0) cursor = rows.at(-1)?.id ?? cursor;
      if (key !== undefined) {
        for (const r of rows)
          if (!r.duplicate && (r.eventKey === key || r.eventKey.startsWith(`${key}#`)))
            followedRows.push(eventRowOf(r));
        // Rows committed out of id order (events of a stack that did not exist yet) or before
        // the wait started are found by key, which is indexed.
        if (!followedRows.some((r) => r.eventKey === key)) {
          const found = await rowsOfEvent(db, opts.stackId, key);
          followedRows.splice(0, followedRows.length, ...found);
        }
      }
      const stack = await getStack(db, opts.stackId);
      if (first) progress.know(stack);
      if (first && stack && opts.state !== undefined && opts.state !== REMOVED)
        await checkWantedState(db, stack, opts.state);
      for (const h of rows) for (const line of progress.lines(h, stack)) opts.onProgress?.(line);
      const removal = stack ? null : await lastApplied(db, opts.stackId);
      const verdict = judge({
        stack,
        lastApplied: removal,
        ...(key !== undefined ? { followed: { key, rows: followedRows } } : {}),
        ...(opts.state !== undefined ? { want: opts.state } : {}),
      });
      if (verdict.kind !== "waiting") return finish(verdict, stack);
      if (first && opts.onProgress)
        opts.onProgress({ at: new Date().toISOString(), text: `waiting: ${verdict.why}`, style: "dim" });
      first = false;
      const wake = await feed.next(deadline);
      if (wake === "deadline" || Date.now() >= deadline)
        return finish({ kind: "waiting", why: verdict.why }, stack, "timeout");
      if (wake === "aborted") return finish({ kind: "waiting", why: verdict.why }, stack, "interrupted");
    }
  } finally {
    await feed.close();
  }

  function finish(v: Verdict, stack: Stack | null, ended?: "timeout" | "interrupted"): WaitResult {
    const base: WaitResult = {
      result: "settled",
      stackId: opts.stackId,
      stack,
      failed: [],
      event: followedRows.find((r) => r.eventKey === key) ?? null,
      removal: null,
      waitingFor: null,
      waitedMs: Date.now() - started,
      mode: feed.mode,
      queries: feed.queries(),
    };
    switch (v.kind) {
      case "waiting":
        return { ...base, result: ended ?? "timeout", waitingFor: v.why };
      case "settled":
        return { ...base, stack: v.stack };
      case "failed":
        return { ...base, result: "failed", failed: v.tasks };
      case "removed":
        return { ...base, result: "removed", removal: v.removal };
      case "refused":
        return { ...base, result: "refused", event: v.row };
    }
  }
}
