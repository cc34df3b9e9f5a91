import { STATE_NAME } from "@stackseam/core";
import { progressText, resultJson, resultText } from "./report.js";
import { REMOVED } from "./settle.js";
import { UnknownStateError } from "./state-check.js";
import { parseTimeout } from "./timeout.js";
import { WAIT_EXIT, waitForStack } from "./wait.js";

/** The default `--timeout`: long enough for a Terraform apply, short of a CI job's own limit. */
export const DEFAULT_TIMEOUT = "1h";

/** The options `wait` and `send --wait` share, as parsed from the command line. */
export interface WaitFlags {
  state?: string;
  timeout?: string;
  full?: boolean;
  quiet?: boolean;
  json?: boolean;
}

/** Checks `--state` and `--timeout`; an Error is a usage error. */
export function checkWaitFlags(flags: WaitFlags): { state?: string; timeoutMs: number } | Error {
  const timeoutMs = parseTimeout(flags.timeout ?? DEFAULT_TIMEOUT);
  if (timeoutMs instanceof Error) return timeoutMs;
  if (flags.state !== undefined && flags.state !== REMOVED && !STATE_NAME.test(flags.state)) {
    const upper = flags.state.toUpperCase();
    return new Error(
      `--state ${flags.state}: state names are upper case (${STATE_NAME.source})${STATE_NAME.test(upper) ? `; did you mean ${upper}?` : ""}, or "removed"`,
    );
  }
  return { ...(flags.state !== undefined ? { state: flags.state } : {}), timeoutMs };
}

/**
 * Runs a wait as the CLI does: progress on stderr (unless quiet), the outcome on stdout, Ctrl-C
 * ends it with 130. Returns the exit code.
 */
export async function runWait(opts: {
  databaseUrl: string;
  stackId: string;
  eventKey?: string;
  state?: string;
  timeoutMs: number;
  flags: WaitFlags;
  /** How `--json` prints the outcome (send --wait adds the message it sent). */
  json?: (result: Record<string, unknown>) => unknown;
}): Promise<number> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const result = await waitForStack({
      databaseUrl: opts.databaseUrl,
      stackId: opts.stackId,
      ...(opts.eventKey !== undefined ? { eventKey: opts.eventKey } : {}),
      ...(opts.state !== undefined ? { state: opts.state } : {}),
      timeoutMs: opts.timeoutMs,
      signal: abort.signal,
      onNote: (text) => process.stderr.write(`stackseam: ${text}\n`),
      ...(opts.flags.quiet ? {} : { onProgress: (line) => process.stderr.write(progressText(line)) }),
    });
    process.stdout.write(
      opts.flags.json
        ? `${JSON.stringify(opts.json ? opts.json(resultJson(result)) : resultJson(result), null, 2)}\n`
        : resultText(result, { full: opts.flags.full === true }),
    );
    return WAIT_EXIT[result.result];
  } catch (err) {
    if (!(err instanceof UnknownStateError)) throw err;
    process.stderr.write(`stackseam: ${err.message}\n`);
    return 2;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
