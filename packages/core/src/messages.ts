import { uncarriableReason } from "./carriable.js";
import type { EventMessage } from "./generated/event-message.js";
import { STACK_ID } from "./generated/patterns.js";
import type { TaskMessage } from "./generated/task-message.js";
import type { TaskReport } from "./generated/task-report.js";
import { malformedJsonReason } from "./json-syntax.js";
import type { EngineEvent, Metadata, OutputValue } from "./model.js";
import { formatPath, isRecord } from "./paths.js";
import { explainSchemaErrors } from "./schema-errors.js";
import { type SchemaValidator, schemaErrors, validators } from "./schema-validators.js";

export type EventParseResult =
  | { ok: true; event: EngineEvent; message: EventMessage }
  | { ok: false; reason: string; stackId?: string };

export type TaskMessageParseResult =
  | { ok: true; message: TaskMessage }
  | { ok: false; reason: string; stackId?: string };

export type TaskReportParseResult =
  | { ok: true; report: TaskReport }
  | { ok: false; reason: string; stackId?: string };

export type MetadataResult = { ok: true; metadata: Metadata } | { ok: false; reason: string };

/** Validates an event-queue message body; `key` is its eventId, else `fallbackKey` (the SQS message id). */
export function parseEventMessage(body: string, fallbackKey: string): EventParseResult {
  const checked = check(body, validators.eventMessage, "an event message");
  if (!checked.ok) return checked;
  const message = checked.value;
  if (message.event !== undefined && message.action !== undefined && message.event !== message.action) {
    return {
      ok: false,
      reason: `event "${message.event}" and its legacy name action "${message.action}" disagree: send only event`,
      stackId: message.stackId,
    };
  }
  const event: EngineEvent = {
    name: (message.event ?? message.action)!,
    key: message.eventId ?? fallbackKey,
    stackId: message.stackId,
  };
  if (message.machine !== undefined) event.machine = message.machine;
  if (message.metadata !== undefined) event.metadata = { ...message.metadata };
  if (message.task !== undefined) event.task = message.task;
  if (message.token !== undefined) event.token = message.token;
  if (message.description !== undefined) event.description = message.description;
  if (message.outputs !== undefined)
    event.outputs = structuredClone(message.outputs) as Record<string, OutputValue>;
  if (message.ttl !== undefined) event.ttl = message.ttl;
  return { ok: true, event, message };
}

/** Validates a task-queue message (a JSON string, or an object from a direct invocation). */
export function parseTaskMessage(body: string | unknown): TaskMessageParseResult {
  const checked = check(body, validators.taskMessage, "a task message");
  return checked.ok ? { ok: true, message: checked.value } : checked;
}

/** Validates a Task Satisfier report (a JSON string or an object). */
export function parseTaskReport(body: string | unknown): TaskReportParseResult {
  const checked = check(body, validators.taskReport, "a task report");
  return checked.ok ? { ok: true, report: checked.value } : checked;
}

/** Validates flat metadata (for example from a CLI's key=value arguments). */
export function validateMetadata(value: unknown): MetadataResult {
  const errors = schemaErrors(validators.metadata, value);
  if (errors.length === 0) return { ok: true, metadata: { ...(value as Metadata) } };
  const wrapped = { metadata: value };
  const reasons = explainSchemaErrors(
    errors.map((e) => ({ ...e, instancePath: `/metadata${e.instancePath}` })),
    wrapped,
    "json",
  ).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  return { ok: false, reason: reasons.join("; ") };
}

type Checked<T> = { ok: true; value: T } | { ok: false; reason: string; stackId?: string };

function check<T>(body: unknown, validator: SchemaValidator<T>, what: string): Checked<T> {
  let data: unknown = body;
  if (typeof body === "string") {
    try {
      data = JSON.parse(body);
    } catch {
      // Not the parser's message: Node's quotes the text around the error, which may be a secret.
      return { ok: false, reason: malformedJsonReason(body) };
    }
  }
  if (!isRecord(data)) {
    const got = data === null ? "null" : Array.isArray(data) ? "an array" : `a ${typeof data}`;
    return { ok: false, reason: `${what} must be a JSON object, got ${got}` };
  }
  const stackId = typeof data.stackId === "string" && STACK_ID.test(data.stackId) ? data.stackId : undefined;
  // Before the schema: its explanations may quote values, which must be storable themselves.
  const uncarriable = uncarriableReason(data);
  if (uncarriable !== null)
    return stackId === undefined
      ? { ok: false, reason: uncarriable }
      : { ok: false, reason: uncarriable, stackId };
  const errors = schemaErrors(validator, data);
  if (errors.length === 0) return { ok: true, value: data as T };
  const reason = explainSchemaErrors(errors, data, "json")
    .map((issue) => (issue.path.length === 0 ? issue.message : `${formatPath(issue.path)}: ${issue.message}`))
    .join("; ");
  return stackId === undefined ? { ok: false, reason } : { ok: false, reason, stackId };
}
