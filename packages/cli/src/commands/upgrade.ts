import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  type EventMessage,
  type Machine,
  parseEventMessage,
  type Stack,
  upgradeProblems,
} from "@stackseam/core";
import type { Style } from "../colour.js";
import { type Connection, resolveConnection } from "../connection.js";
import { findSpecs, openSpecs } from "../spec-access.js";
import { type Cell, cell, table } from "../table.js";
import { openCliDatabase } from "../versions/assess.js";

/** The `stacks` options `stacks upgrade` reads. */
export interface UpgradeValues {
  machine?: string;
  "dry-run"?: boolean;
  "queue-url"?: string;
  "database-url"?: string;
  specs?: string;
  json?: boolean;
}

/** What `stacks upgrade` decided for one stack. */
export type Verdict = "upgrade" | "current" | "unpinned" | "stranded";

export interface UpgradePlan {
  stack: Pick<Stack, "id" | "machine" | "state" | "version" | "entry">;
  /** The version it runs; null for a stack created before versions. */
  from: string | null;
  to: string;
  verdict: Verdict;
  problems: string[];
  /** The event sent (or that would be sent) for an upgrade. */
  message?: EventMessage;
  messageId?: string;
  /** Why sending failed, when it did. */
  error?: string;
}

/**
 * The idempotency key of one upgrade: the same stack, at the same state entry, from and to the
 * same versions, is upgraded once however often the command is run; once it has moved (or
 * entered another state) a new attempt gets a new key.
 */
export function upgradeEventId(stack: Pick<Stack, "id" | "entry">, from: string, to: string): string {
  return `upgrade:${from}:${to}:${stack.entry}:${stack.id}`;
}

/** What upgrading `stack` to `to` would do, by the compatibility check the State Manager applies. */
export function planUpgrade(stack: Stack, to: Machine): UpgradePlan {
  const base = {
    stack: {
      id: stack.id,
      machine: stack.machine,
      state: stack.state,
      version: stack.version,
      entry: stack.entry,
    },
    from: stack.version === "" ? null : stack.version,
    to: to.version,
    problems: [] as string[],
  };
  // A row from before versions is pinned to the current version by its next event: nothing to send.
  if (base.from === null) return { ...base, verdict: "unpinned" };
  if (base.from === to.version) return { ...base, verdict: "current" };
  const problems = upgradeProblems(stack, to);
  if (problems.length > 0) return { ...base, verdict: "stranded", problems };
  const message: EventMessage = {
    stackId: stack.id,
    event: "UPGRADE_MACHINE",
    machine: stack.machine,
    eventId: upgradeEventId(stack, base.from, to.version),
  };
  return { ...base, verdict: "upgrade", message };
}

const VERDICT_STYLE: Record<Verdict, Style> = {
  upgrade: "green",
  current: "dim",
  unpinned: "dim",
  stranded: "red",
};

function resultCell(p: UpgradePlan, dryRun: boolean): Cell {
  switch (p.verdict) {
    case "current":
      return { text: "already runs it", style: VERDICT_STYLE.current };
    case "unpinned":
      return {
        text: "no version yet: runs the current one from its next event",
        style: VERDICT_STYLE.unpinned,
      };
    case "stranded":
      return { text: cell(`cannot upgrade: ${p.problems.join("; ")}`, 400), style: VERDICT_STYLE.stranded };
    case "upgrade":
      if (p.error) return { text: cell(`not sent: ${p.error}`, 400), style: "red" };
      return dryRun
        ? { text: "ok: would send UPGRADE_MACHINE", style: VERDICT_STYLE.upgrade }
        : { text: `sent UPGRADE_MACHINE (${p.messageId ?? "?"})`, style: VERDICT_STYLE.upgrade };
  }
}

function render(plans: readonly UpgradePlan[], dryRun: boolean): string {
  return table(
    ["stack", "machine", "state", "from", "to", "result"],
    plans.map((p) => [
      cell(p.stack.id),
      p.stack.machine,
      p.stack.state,
      p.from ?? "(none)",
      p.to,
      resultCell(p, dryRun),
    ]),
  );
}

/** The stacks to upgrade: one by id, or every live stack of a machine (read page by page). */
async function loadStacks(databaseUrl: string, id: string | undefined, machine: string | undefined) {
  const { getStack, listStacks } = await import("@stackseam/state-manager");
  const db = await openCliDatabase(databaseUrl);
  try {
    if (id !== undefined) {
      const stack = await getStack(db, id);
      return stack ? [stack] : [];
    }
    const all: Stack[] = [];
    for (let after: string | undefined; ; ) {
      const page = await listStacks(db, { machine: machine!, limit: 500, ...(after ? { after } : {}) });
      all.push(...page);
      if (page.length < 500) return all;
      after = page.at(-1)!.id;
    }
  } finally {
    await db.destroy();
  }
}

/** The machine's current version, read where the State Manager that gets the events reads it. */
async function currentMachine(
  name: string,
  conn: Connection,
  specsFlag: string | undefined,
): Promise<{ machine: Machine; where: string } | { error: string }> {
  // The dev's specs only speak for the dev's queue (as for send's check).
  const dev = conn.dev && conn.eventQueueUrl === conn.dev.eventQueueUrl ? conn.dev : null;
  const place = findSpecs({ specsFlag, dev });
  if (!place)
    return {
      error:
        "no specs to read the current version from: pass --specs DIR, start `stackseam dev`, or set MACHINE_SPEC_DIR or MACHINE_S3_BUCKET",
    };
  const specs = await openSpecs(place);
  try {
    const answer = await specs.lookup(name);
    if (answer.kind === "found") return { machine: answer.machine, where: specs.where };
    if (answer.kind === "invalid")
      return {
        error: `the current spec of machine ${name} is invalid (${answer.reason}): nothing to upgrade to`,
      };
    return { error: `${specs.where} holds no spec of machine ${name}` };
  } catch (err) {
    return { error: `could not read the specs in ${specs.where}: ${(err as Error).message}` };
  } finally {
    specs.close();
  }
}

/** Sends the upgrade events, ten to a batch, as `send` sends one; failures are noted on the plans. */
async function sendAll(plans: UpgradePlan[], conn: Connection & { eventQueueUrl: string }): Promise<void> {
  const sqs = new SQSClient({
    ...(conn.endpoint ? { endpoint: conn.endpoint } : {}),
    ...(conn.region ? { region: conn.region } : {}),
    ...(conn.credentials ? { credentials: conn.credentials } : {}),
  });
  try {
    const due = plans.filter((p) => p.message);
    for (let i = 0; i < due.length; i += 10) {
      const chunk = due.slice(i, i + 10);
      try {
        const res = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: conn.eventQueueUrl,
            Entries: chunk.map((p, j) => ({ Id: String(j), MessageBody: JSON.stringify(p.message) })),
          }),
        );
        for (const ok of res.Successful ?? []) chunk[Number(ok.Id)]!.messageId = ok.MessageId ?? "?";
        for (const bad of res.Failed ?? [])
          chunk[Number(bad.Id)]!.error = bad.Message ?? bad.Code ?? "failed";
      } catch (err) {
        for (const p of chunk) p.error = `could not send to ${conn.eventQueueUrl}: ${(err as Error).message}`;
      }
    }
  } finally {
    sqs.destroy();
  }
}

/**
 * `stackseam stacks upgrade <id> | --machine M [--dry-run]`: checks each stack against the
 * machine's current version and sends UPGRADE_MACHINE to those that can move (the State Manager
 * checks again when it applies it). Exit 1 when a stack cannot move or a send failed.
 */
export async function upgrade(
  values: UpgradeValues,
  id: string | undefined,
  usage: (msg: string) => number,
): Promise<number> {
  if ((id === undefined) === (values.machine === undefined))
    return usage("upgrade takes one stack id or --machine M (not both)");
  const conn = resolveConnection({
    ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
    ...(values["queue-url"] ? { queueUrl: values["queue-url"] } : {}),
  });
  if (!conn.databaseUrl)
    return usage("no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`");
  const dryRun = values["dry-run"] === true;
  if (!dryRun && !conn.eventQueueUrl)
    return usage("no event queue: pass --queue-url, set SQS_EVENT_QUEUE_URL, or start `stackseam dev`");

  const stacks = await loadStacks(conn.databaseUrl, id, values.machine);
  if (stacks.length === 0) {
    process.stderr.write(
      id !== undefined
        ? `stackseam stacks: stack ${cell(id, 200)} does not exist\n`
        : `stackseam stacks: no live stacks of machine ${values.machine}\n`,
    );
    return id !== undefined ? 1 : 0;
  }
  const name = stacks[0]!.machine;
  const current = await currentMachine(name, conn, values.specs);
  if ("error" in current) {
    process.stderr.write(`stackseam stacks: ${current.error}\n`);
    return 1;
  }
  const plans = stacks.map((s) => planUpgrade(s, current.machine));
  for (const p of plans) {
    if (!p.message) continue;
    const checked = parseEventMessage(JSON.stringify(p.message), "stackseam-upgrade");
    if (!checked.ok) p.error = `invalid event message: ${checked.reason}`;
  }
  if (!dryRun) await sendAll(plans, conn as Connection & { eventQueueUrl: string });

  if (values.json) process.stdout.write(`${JSON.stringify(plans, null, 2)}\n`);
  else {
    process.stdout.write(
      `machine ${name}: current version ${current.machine.version} (from ${current.where})\n${render(plans, dryRun)}`,
    );
    const count = (v: Verdict) => plans.filter((p) => p.verdict === v).length;
    const sent = plans.filter((p) => p.messageId).length;
    const parts = [
      dryRun ? `${count("upgrade")} would be upgraded` : `${sent} upgrade(s) sent`,
      `${count("current")} already current`,
      `${count("stranded")} cannot upgrade`,
      ...(count("unpinned") > 0 ? [`${count("unpinned")} without a version`] : []),
    ];
    process.stdout.write(`${parts.join(", ")}\n`);
    if (count("stranded") > 0)
      process.stdout.write(
        "Stacks that cannot upgrade keep running their version: move them to a state the new version has (or let them finish), then run this again.\n",
      );
    if (!dryRun && sent > 0)
      process.stdout.write(`Each upgrade is a history row: stackseam stacks history <stackId>\n`);
  }
  const failed = plans.some((p) => p.verdict === "stranded" || p.error !== undefined);
  return failed ? 1 : 0;
}
