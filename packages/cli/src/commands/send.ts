import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { EventMessage, MetadataValue } from "@stackseam/core";
import { resolveConnection } from "../connection.js";
import { refuseEvent, sqsClientFor } from "../publish.js";
import { parseCommandArgs } from "../registry.js";
import { checkEvent } from "../send-check.js";
import { checkWaitFlags, DEFAULT_TIMEOUT, runWait, type WaitFlags } from "../watch/run-wait.js";

const help = `Usage: stackseam send <stackId> <EVENT> [options]

Publishes an event to the event queue, after validating it as the State Manager will.

Options:
  --machine M         the stack's machine (required on a stack's first event)
  --meta k=v          a metadata entry; the value is always a string (repeatable)
  --meta k:=JSON      a metadata entry with a JSON scalar value: replicas:=3, debug:=true, tag:='"007"';
                      k:=null removes the key from the stack's metadata
  --event-id ID       idempotency key: the same ID sent twice is applied once (default: the SQS message id)
  --task T            reports only (TASK_COMPLETED / TASK_ERROR): the task name
  --token TOKEN       reports only: the dispatch token
  --description D     TASK_ERROR only: what failed
  --ttl D|never|default
                      EXTEND_TTL only: keep the stack at least D from now (3d, 12h, 1h30m), exempt
                      it from its TTL (never), or go back to the machine's TTL (default)
  --queue-url URL     the event queue (default: SQS_EVENT_QUEUE_URL, else a running \`stackseam dev\`)
  --specs DIR         check the machine and event against the specs in DIR (default: the running
                      dev's specs, else MACHINE_SPEC_DIR, else MACHINE_S3_BUCKET/MACHINE_S3_KEY)
  --no-check          send without checking the machine and event against the specs
  --dry-run           validate (and check) and print the message; send nothing
  --json              print {"messageId", "message"} as JSON
  --wait              then wait for the stack to settle after this event, as \`stackseam wait
                      --event-id\` does (exit codes: see \`stackseam wait --help\`)
  --state S, --timeout D, --full, --quiet, --database-url URL
                      with --wait: as for \`stackseam wait\` (default timeout ${DEFAULT_TIMEOUT})
  -h, --help          show this help

When the specs are reachable, an unknown machine or an event the machine does not declare is
refused here (with a did-you-mean) instead of in the stack's history.
Endpoints come from AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL when set.
Exit codes: 0 sent, 1 sending failed, 2 usage error, invalid message, or refused by the check;
with --wait, those of \`stackseam wait\` once sent (0 settled, 3 task failed, 4 removed, 5 timed
out, 6 refused).

Examples:
  stackseam send feature-123 LAUNCH --machine qa-env --meta apiImageTag=e724e90
  stackseam send feature-123 DESTROY --event-id destroy-feature-123
  stackseam send feature-123 EXTEND_TTL --ttl 3d
  stackseam send feature-123 LAUNCH --machine qa-env --wait --state RUN --timeout 30m
`;

/** `--wait` and its options: null without --wait (its options are then usage errors). */
function checkSendWait(values: SendValues): { state?: string; timeoutMs: number } | null | Error {
  if (!values.wait) {
    for (const only of ["state", "timeout", "full", "quiet", "database-url"] as const)
      if (values[only] !== undefined) return new Error(`--${only} goes with --wait`);
    return null;
  }
  if (values["dry-run"]) return new Error("--wait cannot follow a --dry-run: nothing is sent");
  return checkWaitFlags(values);
}

/** Parses one --meta argument: `k=v` is a string; `k:=json` is a JSON scalar, `k:=null` removes k. */
export function parseMeta(arg: string): { key: string; value: MetadataValue | null } | { error: string } {
  const typed = arg.indexOf(":=");
  const plain = arg.indexOf("=");
  if (typed > 0 && typed + 1 === plain) {
    const key = arg.slice(0, typed);
    const raw = arg.slice(typed + 2);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return { error: `--meta ${arg}: ${raw} is not JSON (use k=v for a plain string)` };
    }
    if (
      value !== null &&
      typeof value !== "string" &&
      typeof value !== "number" &&
      typeof value !== "boolean"
    ) {
      return {
        error: `--meta ${arg}: metadata values are strings, numbers or booleans (flat, no objects or arrays), or null to remove the key`,
      };
    }
    return { key, value };
  }
  if (plain <= 0) return { error: `--meta ${arg}: expected key=value or key:=json` };
  return { key: arg.slice(0, plain), value: arg.slice(plain + 1) };
}

interface SendValues extends WaitFlags {
  machine?: string;
  meta?: string[];
  "event-id"?: string;
  task?: string;
  token?: string;
  description?: string;
  ttl?: string;
  "queue-url"?: string;
  specs?: string;
  "no-check"?: boolean;
  "dry-run"?: boolean;
  json?: boolean;
  wait?: boolean;
  "database-url"?: string;
  help?: boolean;
}

/** `stackseam send`. */
export async function run(args: string[]): Promise<number> {
  let values: SendValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs<SendValues>("send", args));
  } catch (err) {
    process.stderr.write(`stackseam send: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [stackId, eventName, ...extra] = positionals;
  if (!stackId || !eventName || extra.length > 0) {
    process.stderr.write(`stackseam send: expected <stackId> <EVENT>\n\n${help}`);
    return 2;
  }

  const message: EventMessage = { stackId, event: eventName };
  if (values.machine !== undefined) message.machine = values.machine;
  if (values["event-id"] !== undefined) message.eventId = values["event-id"];
  if (values.task !== undefined) message.task = values.task;
  if (values.token !== undefined) message.token = values.token;
  if (values.description !== undefined) message.description = values.description;
  if (values.ttl !== undefined) {
    if (eventName !== "EXTEND_TTL") {
      process.stderr.write("stackseam send: --ttl goes with EXTEND_TTL\n");
      return 2;
    }
    message.ttl = values.ttl;
  }
  if (values.meta && values.meta.length > 0) {
    const metadata: Record<string, MetadataValue | null> = {};
    for (const arg of values.meta) {
      const parsed = parseMeta(arg);
      if ("error" in parsed) {
        process.stderr.write(`stackseam send: ${parsed.error}\n`);
        return 2;
      }
      metadata[parsed.key] = parsed.value;
    }
    message.metadata = metadata;
  }
  const body = JSON.stringify(message);
  // The same check the dashboard's actions go through (publish.ts).
  const refused = refuseEvent(message, "stackseam-send");
  if (refused) {
    process.stderr.write(`stackseam send: ${refused}\n`);
    return 2;
  }

  const waiting = checkSendWait(values);
  if (waiting instanceof Error) {
    process.stderr.write(`stackseam send: ${waiting.message}\n`);
    return 2;
  }
  const conn = resolveConnection({
    ...(values["queue-url"] ? { queueUrl: values["queue-url"] } : {}),
    ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
  });
  if (waiting && !conn.databaseUrl) {
    process.stderr.write(
      "stackseam send: --wait reads the database: pass --database-url, set DATABASE_URL, or start `stackseam dev`\n",
    );
    return 2;
  }
  if (!values["no-check"]) {
    const check = await checkEvent(message, conn, values.specs);
    if (check.note) process.stderr.write(`stackseam send: ${check.note}\n`);
    if (!check.ok) {
      process.stderr.write(
        `stackseam send: ${check.reason}\n  (checked against ${check.where}; --no-check sends it anyway)\n`,
      );
      return 2;
    }
  }
  if (values["dry-run"]) {
    process.stdout.write(values.json ? `${JSON.stringify({ message }, null, 2)}\n` : `${body}\n`);
    return 0;
  }
  if (!conn.eventQueueUrl) {
    process.stderr.write(
      "stackseam send: no event queue: pass --queue-url, set SQS_EVENT_QUEUE_URL, or start `stackseam dev`\n",
    );
    return 2;
  }
  const sqs = sqsClientFor(conn);
  try {
    const res = await sqs.send(new SendMessageCommand({ QueueUrl: conn.eventQueueUrl, MessageBody: body }));
    if (waiting && conn.databaseUrl) {
      // The State Manager keys the event by its eventId, else by the SQS message id.
      const eventKey = message.eventId ?? res.MessageId ?? "";
      if (!values.json) process.stdout.write(`${res.MessageId}\n`);
      sqs.destroy();
      return await runWait({
        databaseUrl: conn.databaseUrl,
        stackId,
        eventKey,
        ...waiting,
        flags: values,
        json: (wait) => ({ messageId: res.MessageId, message, wait }),
      }).catch((err: unknown) => {
        process.stderr.write(`stackseam send: sent, but could not wait: ${(err as Error).message}\n`);
        return 1;
      });
    }
    if (values.json)
      process.stdout.write(`${JSON.stringify({ messageId: res.MessageId, message }, null, 2)}\n`);
    else process.stdout.write(`${res.MessageId}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(
      `stackseam send: could not send to ${conn.eventQueueUrl}: ${(err as Error).message}\n`,
    );
    return 1;
  } finally {
    sqs.destroy();
  }
}
