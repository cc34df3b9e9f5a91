import { printable, STACK_ID } from "@stackseam/core";
import { resolveConnection } from "../connection.js";
import { parseCommandArgs } from "../registry.js";
import { checkWaitFlags, DEFAULT_TIMEOUT, runWait, type WaitFlags } from "../watch/run-wait.js";

const help = `Usage: stackseam wait <stackId> [options]

Blocks until the stack is settled: no task running and none failed with a retry still to come,
and, with --state, in that state. Progress (state changes, tasks started and finished) goes to
stderr as it happens; the outcome is printed on stdout.

Options:
  --event-id KEY      follow this event: wait until it is processed, and exit 6 if it is refused
                      (KEY: the event's --event-id, else the message id \`send\` printed)
  --state S           settle in state S (keep waiting while the stack is settled elsewhere);
                      "removed" waits for the stack's removal
  --timeout D         give up after D: 90s, 20m, 1h30m, or seconds (default ${DEFAULT_TIMEOUT})
  --full              print a failed task's description in full (default: its first Error: line)
  --quiet             no progress on stderr
  --json              print the outcome as JSON
  --database-url URL  postgres://… (default: DATABASE_URL, else a running \`stackseam dev\`)
  -h, --help          show this help

Without --event-id the wait follows no event: a stack that does not exist yet is waited for, a
removed one exits 4 at once, and an event still in the queue is not waited for (use
\`send … --wait\`, or pass its key with --event-id).

Exit codes: 0 settled (in --state if given), 1 database error, 2 usage error, 3 a task failed
(no retry left), 4 the stack was removed, 5 timed out, 6 the followed event was refused,
130 interrupted.

Examples:
  stackseam wait feature-123 --state RUN --timeout 30m
  id=$(stackseam send feature-123 LAUNCH --machine qa-env) && stackseam wait feature-123 --event-id "$id"
  stackseam send feature-123 LAUNCH --machine qa-env --wait --state RUN
`;

interface Values extends WaitFlags {
  "event-id"?: string;
  "database-url"?: string;
  help?: boolean;
}

/** `stackseam wait`. */
export async function run(args: string[]): Promise<number> {
  let values: Values;
  let positionals: string[];
  const usage = (msg: string) => {
    process.stderr.write(`stackseam wait: ${msg}\n\n${help}`);
    return 2;
  };
  try {
    ({ values, positionals } = parseCommandArgs<Values>("wait", args));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [stackId, ...extra] = positionals;
  if (stackId === undefined || extra.length > 0) return usage("expected one <stackId>");
  if (!STACK_ID.test(stackId)) return usage(`"${printable(stackId)}" is not a stack id (${STACK_ID.source})`);
  const checked = checkWaitFlags(values);
  if (checked instanceof Error) return usage(checked.message);
  const conn = resolveConnection(values["database-url"] ? { databaseUrl: values["database-url"] } : {});
  if (!conn.databaseUrl)
    return usage("no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`");
  try {
    return await runWait({
      databaseUrl: conn.databaseUrl,
      stackId,
      ...(values["event-id"] !== undefined ? { eventKey: values["event-id"] } : {}),
      ...checked,
      flags: values,
    });
  } catch (err) {
    process.stderr.write(`stackseam wait: ${(err as Error).message}\n`);
    return 1;
  }
}
