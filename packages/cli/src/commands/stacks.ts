import { failureSummary, failureText, printable, type Stack } from "@stackseam/core";
import { getHistory, getStack, type HistoryEntry, listStacks, openDatabase } from "@stackseam/state-manager";
import type { Style } from "../colour.js";
import { resolveConnection } from "../connection.js";
import { historyEventLabel, historyExtras } from "../history-text.js";
import { parseCommandArgs } from "../registry.js";
import { bareValue, findOutput, renderOutputs } from "../stack-outputs.js";
import { readStackTime, renderStackTime, type StackTime, stackTimeJson } from "../stack-time.js";
import { type Cell, cell, indent, table } from "../table.js";
import { formatTime } from "../time.js";
import { relativeTime } from "../timer-text.js";
import { type VersionStatus, versionLine, versionStatus } from "../versions/version-status.js";

const help = `Usage:
  stackseam stacks list [--machine M] [--state S] [--limit N] [--after ID] [--full] [--local] [--json]
  stackseam stacks show <stackId> [--watch] [--full] [--local] [--json]
  stackseam stacks history <stackId> [--follow] [--limit N] [--full] [--local] [--json]
  stackseam stacks outputs <stackId> [name | task.name] [--json]
  stackseam stacks upgrade <stackId> | --machine M [--dry-run] [--specs DIR] [--queue-url URL] [--json]

Reads stacks and their history from the Stackseam database. A removed stack has no row any more,
but its history stays: \`history\` answers "what happened to my stack?". \`show\` includes the stack's
pending timers, its TTL, the events it keeps deferred and its tasks' outputs.

Options:
  --database-url URL  postgres://… (default: DATABASE_URL, else a running \`stackseam dev\`)
  --machine M         list: only stacks of machine M
  --state S           list: only stacks in state S
  --limit N           list: at most N stacks (default 100); history: the newest N rows (default 200)
  --after ID          list: the stacks after this id (the next page)
  --full              print task failures in full (default: the first \`Error:\` line)
  --local             print times in local time with its offset (default: ISO 8601 in UTC)
  --json              print JSON instead of a table
  -f, --follow        history: then print each new row as it is written, until Ctrl-C
                      (with --json: one row per line)
  -w, --watch         show: then print the stack again each time it changes, until Ctrl-C
                      (with --json: the stack, or null once removed, one line per change)
  --dry-run           upgrade: check each stack against the current version, send nothing
  --specs DIR         upgrade: read the current version from DIR (default: as \`send\` checks)
  --queue-url URL     upgrade: the event queue (default: SQS_EVENT_QUEUE_URL, else a running dev)
  -h, --help          show this help

\`outputs\` prints the outputs its tasks reported; with a name, the bare value for scripts
(URL=$(stackseam stacks outputs feature-1 url)): a string as it is, anything else as JSON. A name
two tasks report needs task.name. A missing or sensitive output prints nothing on stdout and exits 1
(sensitive values never reach Stackseam).

\`upgrade\` sends UPGRADE_MACHINE to each stack that can run the machine's current version (its
state and tasks exist there); the others are listed with the reasons (exit 1).

Exit codes: 0 ok, 1 not found or database error, 2 usage error.
`;

interface Values {
  "database-url"?: string;
  json?: boolean;
  full?: boolean;
  local?: boolean;
  limit?: string;
  machine?: string;
  state?: string;
  after?: string;
  follow?: boolean;
  watch?: boolean;
  "dry-run"?: boolean;
  "queue-url"?: string;
  specs?: string;
  help?: boolean;
}

interface Render {
  full: boolean;
  local: boolean;
}

const STATUS_STYLE: Record<string, Style> = { ERROR: "red", SATISFIED: "green", PENDING: "yellow" };
const OUTCOME_STYLE: Record<string, Style> = { refused: "yellow", ignored: "dim" };

function tasksSummary(stack: Stack): string {
  if (stack.tasks.length === 0) return "-";
  const done = stack.tasks.filter((t) => t.status === "SATISFIED").length;
  const failed = stack.tasks.filter((t) => t.status === "ERROR").length;
  return `${done}/${stack.tasks.length} satisfied${failed ? `, ${failed} failed` : ""}`;
}

/** A failure in full under its table row, indented past the row's start. */
function fullText(description: string, by = "    "): string[] {
  return failureText(description, { full: true })
    .split("\n")
    .map((line) => `${by}${line}`);
}

function renderList(stacks: Stack[], r: Render): string {
  const failed = (s: Stack) => s.tasks.find((t) => t.status === "ERROR" && t.description);
  const withErrors = stacks.some((s) => failed(s));
  const headers = ["stack", "machine", "state", "tasks", "updated", ...(withErrors ? ["error"] : [])];
  return table(
    headers,
    stacks.map((s) => {
      const f = failed(s);
      const row: Cell[] = [cell(s.id), s.machine, s.state, tasksSummary(s), formatTime(s.updatedAt, r)];
      if (withErrors)
        row.push(f ? { text: `${f.name}: ${failureSummary(f.description ?? "")}`, style: "red" } : "");
      return row;
    }),
    {
      after: (i) => {
        const f = r.full ? failed(stacks[i]!) : undefined;
        return f?.description ? fullText(f.description) : [];
      },
    },
  );
}

/** When a task's current attempt times out, or its retry is due, relative to now. */
function taskDue(t: Stack["tasks"][number], now: Date): string {
  if (t.status === "PENDING" && t.deadline) return `times out ${relativeTime(t.deadline, now)}`;
  if (t.status === "ERROR" && t.retryAt) return `retry ${relativeTime(t.retryAt, now)}`;
  return "";
}

function renderStack(stack: Stack, r: Render, version?: VersionStatus, time?: StackTime): string {
  const now = new Date();
  const lines = [
    `Stack     ${cell(stack.id, 200)}`,
    `Machine   ${stack.machine}`,
    versionLine(stack, version ?? null),
    `State     ${stack.state}${stack.enteredAt ? ` (since ${formatTime(stack.enteredAt, r)})` : ""}`,
    `Created   ${formatTime(stack.createdAt, r)}`,
    `Updated   ${formatTime(stack.updatedAt, r)}`,
    ...(stack.activeAt
      ? [
          `Active    ${formatTime(stack.activeAt, r)} (the last event from outside: an idle TTL counts from it)`,
        ]
      : []),
    "",
  ];
  const meta = Object.entries(stack.metadata);
  lines.push(meta.length === 0 ? "Metadata  (none)" : "Metadata");
  let out = `${lines.join("\n")}\n`;
  if (meta.length > 0) {
    out += indent(
      table(
        ["key", "value"],
        meta.map(([k, v]) => [cell(k), typeof v === "string" ? cell(v, 100) : JSON.stringify(v)]),
      ),
    );
  }
  if (stack.tasks.length === 0) {
    out += "\nTasks     (none: the state is stable)\n";
    return out + renderStackTime(stack, time, { local: r.local, now });
  }
  out += `\nTasks     ${tasksSummary(stack)}\n`;
  const due = stack.tasks.some((t) => taskDue(t, now) !== "");
  out += indent(
    table(
      ["task", "status", "attempt", "token", ...(due ? ["due"] : []), "error"],
      stack.tasks.map((t) => [
        t.name,
        { text: t.status, style: STATUS_STYLE[t.status] },
        String(t.attempt),
        t.token,
        ...(due ? [taskDue(t, now)] : []),
        t.description ? failureSummary(t.description) : "",
      ]),
      {
        after: (i) => {
          const t = stack.tasks[i]!;
          return r.full && t.description ? fullText(t.description) : [];
        },
      },
    ),
  );
  return out + renderStackTime(stack, time, { local: r.local, now });
}

function failedDescription(h: HistoryEntry): string | null {
  const description = typeof h.detail?.description === "string" ? h.detail.description : null;
  return description && h.outcome === "applied" ? description : null;
}

function historyDetail(h: HistoryEntry): string {
  // For a failed task, what failed matters more than the engine's note; for an ignored or refused
  // report, why it was not applied matters more than what it said.
  const description = failedDescription(h);
  if (description) return `task ${h.task ?? "?"} failed: ${failureSummary(description)}`;
  const note = h.reason ?? (typeof h.detail?.note === "string" ? h.detail.note : "");
  const extras = historyExtras(h);
  const text = extras ? (note ? `${note}; ${extras}` : extras) : note;
  const prefix = h.task && !text.includes(h.task) ? `task ${h.task}: ` : "";
  return cell(`${prefix}${text}`, 400);
}

function historyTo(h: HistoryEntry): string {
  // A removal is not a move: the stack left its (terminal) state and no longer exists.
  if (h.detail?.removed === true) return h.path.length > 0 ? `${h.path.join(" → ")} → removed` : "removed";
  return h.path.length > 1 ? h.path.join(" → ") : (h.to ?? "-");
}

function renderHistory(rows: HistoryEntry[], r: Render): string {
  return table(
    ["time", "event", "outcome", "from", "to", "detail"],
    rows.map((h) => [
      formatTime(h.at, r),
      cell(historyEventLabel(h), 60),
      h.duplicate
        ? { text: "ignored (duplicate)", style: "dim" }
        : { text: h.outcome, style: OUTCOME_STYLE[h.outcome] },
      h.from ?? "-",
      historyTo(h),
      historyDetail(h),
    ]),
    {
      after: (i) => {
        const description = r.full ? failedDescription(rows[i]!) : null;
        return description ? fullText(description) : [];
      },
    },
  );
}

function positiveInt(raw: string | undefined, name: string): number | undefined | Error {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0
    ? n
    : new Error(`${name} must be a positive whole number, got "${raw}"`);
}

/** `stackseam stacks list|show|history`. */
export async function run(args: string[]): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs<Values>("stacks", args));
  } catch (err) {
    process.stderr.write(`stackseam stacks: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [sub, id, ...extra] = positionals;
  const usage = (msg: string) => {
    process.stderr.write(`stackseam stacks: ${msg}\n\n${help}`);
    return 2;
  };
  if (sub === "upgrade") {
    if (extra.length > 0) return usage("upgrade takes one stack id or --machine M");
    return (await import("./upgrade.js")).upgrade(values, id, usage);
  }
  if (sub !== "list" && sub !== "show" && sub !== "history" && sub !== "outputs")
    return usage("expected list, show, history, outputs or upgrade");
  for (const only of ["dry-run", "queue-url", "specs"] as const) {
    if (values[only] !== undefined) return usage(`--${only} is for \`stacks upgrade\``);
  }
  const name = sub === "outputs" ? extra.shift() : undefined;
  if (sub === "list" ? id !== undefined : id === undefined || extra.length > 0) {
    return usage(
      sub === "list"
        ? "list takes no stack id"
        : sub === "outputs"
          ? "outputs takes one stack id and at most one output name"
          : `${sub} takes one stack id`,
    );
  }
  if (sub !== "list") {
    for (const only of ["machine", "state", "after"] as const) {
      if (values[only] !== undefined) return usage(`--${only} is for \`stacks list\``);
    }
  }
  if ((sub === "show" || sub === "outputs") && values.limit !== undefined)
    return usage("--limit is for `stacks list` and `stacks history`");
  if (values.follow && sub !== "history") return usage("--follow is for `stacks history`");
  if (values.watch && sub !== "show") return usage("--watch is for `stacks show`");
  const limit = positiveInt(values.limit, "--limit");
  if (limit instanceof Error) return usage(limit.message);
  const render: Render = { full: values.full === true, local: values.local === true };

  const conn = resolveConnection(values["database-url"] ? { databaseUrl: values["database-url"] } : {});
  if (!conn.databaseUrl) {
    return usage("no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`");
  }
  if (values.follow || values.watch) {
    const watch = await import("../watch/follow.js");
    const common = { databaseUrl: conn.databaseUrl, stackId: id!, json: values.json === true };
    return values.follow
      ? watch.followHistory({ ...common, limit: limit ?? 200, render: (rows) => renderHistory(rows, render) })
      : watch.watchStack({ ...common, local: render.local, render: (stack) => renderStack(stack, render) });
  }
  const db = openDatabase(conn.databaseUrl, { max: 1, applicationName: "stackseam-cli" });
  const print = (text: string) => process.stdout.write(text);
  try {
    if (sub === "list") {
      const pageSize = limit ?? 100;
      // One row more than asked tells whether another page exists, without counting them all.
      const fetched = await listStacks(db, {
        ...(values.machine !== undefined ? { machine: values.machine } : {}),
        ...(values.state !== undefined ? { state: values.state } : {}),
        ...(values.after !== undefined ? { after: values.after } : {}),
        limit: pageSize + 1,
      });
      const stacks = fetched.slice(0, pageSize);
      if (values.json) print(`${JSON.stringify(stacks, null, 2)}\n`);
      else if (stacks.length === 0) print("no stacks\n");
      else print(renderList(stacks, render));
      if (fetched.length > pageSize) {
        const last = stacks.at(-1)!.id;
        const filters = [
          values.machine !== undefined ? `--machine ${shellWord(values.machine)}` : "",
          values.state !== undefined ? `--state ${shellWord(values.state)}` : "",
          values.limit !== undefined ? `--limit ${pageSize}` : "",
        ].filter(Boolean);
        process.stderr.write(
          `more stacks after these ${pageSize}: stackseam stacks list ${[...filters, `--after ${shellWord(last)}`].join(" ")}\n`,
        );
      }
      return 0;
    }
    if (sub === "show") {
      const stack = await getStack(db, id!);
      if (!stack) {
        process.stderr.write(
          `stackseam stacks: stack ${cell(id, 200)} does not exist (never created, or removed: see \`stackseam stacks history ${shellWord(id!)}\`)\n`,
        );
        return 1;
      }
      const version = await versionStatus(db, stack);
      const time = await readStackTime(db, stack);
      print(
        values.json
          ? `${JSON.stringify({ ...stack, newerVersion: version.newer?.version ?? null, ...stackTimeJson(time) }, null, 2)}\n`
          : renderStack(stack, render, version, time),
      );
      return 0;
    }
    if (sub === "outputs") return await printOutputs(db, id!, name, values.json === true);
    const rows = await getHistory(db, id!, limit !== undefined ? { limit } : {});
    if (values.json) print(`${JSON.stringify(rows, null, 2)}\n`);
    else if (rows.length === 0) {
      process.stderr.write(`stackseam stacks: no history for stack ${cell(id, 200)}\n`);
      return 1;
    } else print(renderHistory(rows, render));
    return 0;
  } catch (err) {
    process.stderr.write(`stackseam stacks: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}

/** `stacks outputs <id> [name]`: exit 0 printed, 1 no such stack, output missing or sensitive. */
async function printOutputs(
  db: ReturnType<typeof openDatabase>,
  id: string,
  name: string | undefined,
  json: boolean,
): Promise<number> {
  const fail = (why: string) => {
    process.stderr.write(`stackseam stacks: ${why}\n`);
    return 1;
  };
  const stack = await getStack(db, id);
  if (!stack) return fail(`stack ${cell(id, 200)} does not exist (never created, or removed)`);
  if (name === undefined) {
    if (json) process.stdout.write(`${JSON.stringify(stack.outputs ?? {}, null, 2)}\n`);
    else if (Object.keys(stack.outputs ?? {}).length === 0)
      process.stderr.write(`stackseam stacks: stack ${cell(id, 200)} has no outputs yet\n`);
    else process.stdout.write(renderOutputs(stack));
    return 0;
  }
  const found = findOutput(stack, name);
  if (!found.ok) return fail(found.reason);
  const value = found.output.value.value;
  if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
  // A terminal shows control characters safely; a pipe or $(…) gets the value as reported.
  else
    process.stdout.write(
      process.stdout.isTTY ? printable(bareValue(value), { multiline: true }) : bareValue(value),
    );
  return 0;
}

/** A value as one shell word, quoted when it needs to be. */
function shellWord(value: string): string {
  return /^[A-Za-z0-9._\-/:=@]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
