import { didYouMean, type EventMessage, SYSTEM_EVENTS } from "@stackseam/core";
import type { Connection } from "./connection.js";
import { findSpecs, openSpecs } from "./spec-access.js";

/** Whether an event can succeed, as far as the specs tell before it is sent. */
export type CheckResult =
  | { ok: true; note?: string }
  | { ok: false; reason: string; where: string; note?: string };

function names(list: Iterable<string>): string {
  const all = [...list];
  return all.length === 0 ? "none" : all.join(", ");
}

/** The stack's machine, read from the database; null when the stack does not exist (yet). */
async function machineOfStack(databaseUrl: string, stackId: string): Promise<string | null> {
  const sm = await import("@stackseam/state-manager");
  const db = sm.openDatabase(databaseUrl, {
    max: 1,
    applicationName: "stackseam-cli",
    connectionTimeoutMillis: 5_000,
  });
  try {
    return (await sm.getStack(db, stackId))?.machine ?? null;
  } finally {
    await db.destroy();
  }
}

/**
 * Checks an event against the specs it will meet, when they are reachable: the machine must
 * exist and declare the event. Only what cannot change in flight is checked (not whether the
 * stack's current state handles the event), and an unreadable source never blocks a send.
 */
export async function checkEvent(
  message: EventMessage,
  conn: Connection,
  specsFlag: string | undefined,
): Promise<CheckResult> {
  const event = message.event;
  if (event === undefined || (SYSTEM_EVENTS as readonly string[]).includes(event)) return { ok: true };
  // The dev's specs only speak for the dev's queue: an event for another queue meets other specs.
  const dev = conn.dev && conn.eventQueueUrl === conn.dev.eventQueueUrl ? conn.dev : null;
  const place = findSpecs({ specsFlag, dev });
  if (!place) return { ok: true };

  let machineName = message.machine;
  if (machineName === undefined) {
    if (!conn.databaseUrl) return { ok: true };
    try {
      machineName = (await machineOfStack(conn.databaseUrl, message.stackId)) ?? undefined;
    } catch (err) {
      return {
        ok: true,
        note: `not checked: could not read stack ${message.stackId}: ${(err as Error).message}`,
      };
    }
    // No such stack yet: its first event (naming the machine) may still be on its way.
    if (machineName === undefined) return { ok: true };
  }

  const explicit = place.kind === "dir" && place.origin === "--specs";
  let specs: Awaited<ReturnType<typeof openSpecs>> | null = null;
  try {
    specs = await openSpecs(place);
    const answer = await specs.lookup(machineName);
    if (answer.kind === "unknown") {
      return {
        ok: false,
        where: specs.where,
        reason: `unknown machine "${machineName}"${didYouMean(machineName, answer.known)} (machines: ${names(answer.known)})`,
      };
    }
    if (answer.kind === "invalid") {
      return { ok: true, note: `not checked: ${answer.reason}` };
    }
    const machine = answer.machine;
    if (!machine.events.has(event)) {
      return {
        ok: false,
        where: specs.where,
        reason: `machine ${machine.name} does not declare event ${event}${didYouMean(event, machine.events)} (events: ${names(machine.events)})`,
      };
    }
    return { ok: true };
  } catch (err) {
    const why = `could not read the specs in ${specs?.where ?? (place.kind === "dir" ? place.dir : `s3://${place.bucket}`)}: ${(err as Error).message}`;
    if (explicit) return { ok: false, where: place.dir, reason: why };
    return { ok: true, note: `not checked: ${why}` };
  } finally {
    specs?.close();
  }
}
