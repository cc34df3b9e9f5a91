import type { Stack } from "@stackseam/core";
import { getHistory, getStack, type HistoryEntry } from "@stackseam/state-manager";
import { paint } from "../colour.js";
import { formatTime } from "../time.js";
import { openStackFeed, type StackFeed } from "./feed.js";
import { historyAfter } from "./reads.js";

// `stacks history --follow` and `stacks show --watch`: the feed `wait` sleeps on, read until Ctrl-C.

/** Runs `body` with a feed and a signal that Ctrl-C (or SIGTERM) aborts; the exit code is 0 then. */
async function untilInterrupted(
  databaseUrl: string,
  stackId: string,
  body: (feed: StackFeed, signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const feed = await openStackFeed(databaseUrl, stackId, {
    signal: abort.signal,
    onNote: (text) => process.stderr.write(`stackseam: ${text}\n`),
  });
  try {
    await body(feed, abort.signal);
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await feed.close();
  }
}

export interface FollowHistoryOptions {
  databaseUrl: string;
  stackId: string;
  /** How many of the newest rows to print first. */
  limit: number;
  json: boolean;
  /** The table `stacks history` prints (header included), for the rows so far. */
  render(rows: HistoryEntry[]): string;
}

/**
 * Prints the history as `stacks history` does, then each new row as it is written, aligned with
 * the table (re-rendered with the rows before it, so the columns match); JSON: one row per line.
 */
export function followHistory(opts: FollowHistoryOptions): Promise<number> {
  const out = (text: string) => process.stdout.write(text);
  return untilInterrupted(opts.databaseUrl, opts.stackId, async (feed, signal) => {
    // Read after LISTEN: a row written from now on wakes the feed.
    const shown = await getHistory(feed.db, opts.stackId, { limit: opts.limit });
    let cursor = shown.at(-1)?.id ?? 0;
    if (shown.length === 0) process.stderr.write(`no history for stack ${opts.stackId} yet; following it\n`);
    else if (opts.json) for (const h of shown) out(`${JSON.stringify(h)}\n`);
    else out(opts.render(shown));
    while (!signal.aborted) {
      const wake = await feed.next(Number.POSITIVE_INFINITY);
      if (wake === "aborted") break;
      const rows = await historyAfter(feed.db, opts.stackId, cursor);
      if (rows.length === 0) continue;
      cursor = rows.at(-1)?.id ?? cursor;
      if (opts.json) {
        for (const h of rows) out(`${JSON.stringify(h)}\n`);
        continue;
      }
      // The lines the new rows add to the table of the recent rows: what `history` would print.
      const context = shown.slice(-50);
      const before = opts.render(context).split("\n").length;
      const lines = opts.render([...context, ...rows]).split("\n");
      out(shown.length === 0 ? lines.join("\n") : `${lines.slice(before - 1).join("\n")}`);
      shown.push(...rows);
      if (shown.length > 200) shown.splice(0, shown.length - 200);
    }
  });
}

export interface WatchStackOptions {
  databaseUrl: string;
  stackId: string;
  json: boolean;
  local: boolean;
  /** What `stacks show` prints for the stack. */
  render(stack: Stack): string;
}

/**
 * Prints the stack as `stacks show` does, then again each time it changes, under a line with the
 * time of the change; a removal prints once. JSON: the stack (or null) as one line per change.
 */
export function watchStack(opts: WatchStackOptions): Promise<number> {
  const out = (text: string) => process.stdout.write(text);
  return untilInterrupted(opts.databaseUrl, opts.stackId, async (feed, signal) => {
    let last: string | undefined;
    let first = true;
    while (!signal.aborted) {
      const stack = await getStack(feed.db, opts.stackId);
      const seen = JSON.stringify(stack);
      if (seen !== last) {
        if (opts.json) out(`${seen}\n`);
        else {
          const at = formatTime(stack?.updatedAt ?? new Date().toISOString(), { local: opts.local });
          if (!first) out("\n");
          out(`${paint("dim", `── ${at} ${"─".repeat(40)}`)}\n`);
          out(
            stack
              ? opts.render(stack)
              : `stack ${opts.stackId} does not exist (not created yet, or removed); watching for it\n`,
          );
        }
        last = seen;
        first = false;
      }
      if ((await feed.next(Number.POSITIVE_INFINITY)) === "aborted") break;
    }
  });
}
