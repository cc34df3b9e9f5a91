import { parseArgs } from "node:util";
import type { Stack } from "@stackseam/core";
import { getHistory, getStack, type HistoryEntry, listStacks, openDatabase } from "@stackseam/state-manager";
import { resolveConnection } from "../connection.js";
import { cell, table } from "../table.js";

const help = `Usage:
  stackseam stacks list [--machine M] [--state S] [--limit N] [--after ID]
  stackseam stacks show <stackId>
  stackseam stacks history <stackId> [--limit N]

Reads stacks and their history from the Stackseam database. A removed stack has no row any more,
but its history stays: \`history\` answers "what happened to my stack?".

Options:
  --database-url URL  postgres://… (default: DATABASE_URL, else a running \`stackseam dev\`)
  --json              print JSON instead of a table
  --limit N           list: at most N stacks (default 100); history: the newest N rows (default 200)
  -h, --help          show this help

Exit codes: 0 ok, 1 not found or database error, 2 usage error.
`;

interface Values {
  "database-url"?: string;
  json?: boolean;
  limit?: string;
  machine?: string;
  state?: string;
  after?: string;
  help?: boolean;
}

function tasksSummary(stack: Stack): string {
  if (stack.tasks.length === 0) return "-";
  const done = stack.tasks.filter((t) => t.status === "SATISFIED").length;
  const failed = stack.tasks.filter((t) => t.status === "ERROR").length;
  return `${done}/${stack.tasks.length} satisfied${failed ? `, ${failed} failed` : ""}`;
}

function renderStack(stack: Stack): string {
  const lines = [
    `Stack     ${stack.id}`,
    `Machine   ${stack.machine}`,
    `State     ${stack.state}`,
    `Created   ${stack.createdAt}`,
    `Updated   ${stack.updatedAt}`,
    "",
  ];
  const meta = Object.entries(stack.metadata);
  lines.push(meta.length === 0 ? "Metadata  (none)" : "Metadata");
  let out = `${lines.join("\n")}\n`;
  if (meta.length > 0) {
    out += table(
      ["key", "value"],
      meta.map(([k, v]) => [k, typeof v === "string" ? cell(v, 100) : JSON.stringify(v)]),
    ).replace(/^(?=.)/gm, "  ");
  }
  if (stack.tasks.length === 0) {
    out += "\nTasks     (none: the state is stable)\n";
  } else {
    out += `\nTasks     ${tasksSummary(stack)}\n`;
    out += table(
      ["task", "status", "attempt", "token", "description"],
      stack.tasks.map((t) => [t.name, t.status, String(t.attempt), t.token, cell(t.description, 100)]),
    ).replace(/^/gm, "  ");
  }
  return out;
}

function historyDetail(h: HistoryEntry): string {
  const description = typeof h.detail?.description === "string" ? h.detail.description : null;
  // For a failed task, what failed matters more than the engine's note; for an ignored or refused
  // report, why it was not applied matters more than what it said.
  if (description && h.outcome === "applied")
    return cell(`task ${h.task ?? "?"} failed: ${description}`, 160);
  const text = h.reason ?? (typeof h.detail?.note === "string" ? h.detail.note : "");
  const prefix = h.task && !text.includes(h.task) ? `task ${h.task}: ` : "";
  return cell(`${prefix}${text}`, 160);
}

function renderHistory(rows: HistoryEntry[]): string {
  return table(
    ["time", "event", "outcome", "from", "to", "detail"],
    rows.map((h) => [
      h.at.replace("T", " ").replace("Z", ""),
      h.event ?? "?",
      h.duplicate ? "ignored (duplicate)" : h.outcome,
      h.from ?? "-",
      h.path.length > 1 ? h.path.join(" → ") : (h.to ?? "-"),
      historyDetail(h),
    ]),
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
    ({ values, positionals } = parseArgs({
      args,
      options: {
        "database-url": { type: "string" },
        json: { type: "boolean" },
        limit: { type: "string" },
        machine: { type: "string" },
        state: { type: "string" },
        after: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    }));
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
  if (sub !== "list" && sub !== "show" && sub !== "history") return usage("expected list, show or history");
  if (sub === "list" ? id !== undefined : id === undefined || extra.length > 0) {
    return usage(sub === "list" ? "list takes no stack id" : `${sub} takes one stack id`);
  }
  const limit = positiveInt(values.limit, "--limit");
  if (limit instanceof Error) return usage(limit.message);

  const conn = resolveConnection(values["database-url"] ? { databaseUrl: values["database-url"] } : {});
  if (!conn.databaseUrl) {
    return usage("no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`");
  }
  const db = openDatabase(conn.databaseUrl, { max: 1, applicationName: "stackseam-cli" });
  const print = (text: string) => process.stdout.write(text);
  try {
    if (sub === "list") {
      const stacks = await listStacks(db, {
        ...(values.machine !== undefined ? { machine: values.machine } : {}),
        ...(values.state !== undefined ? { state: values.state } : {}),
        ...(values.after !== undefined ? { after: values.after } : {}),
        ...(limit !== undefined ? { limit } : {}),
      });
      if (values.json) print(`${JSON.stringify(stacks, null, 2)}\n`);
      else if (stacks.length === 0) print("no stacks\n");
      else {
        print(
          table(
            ["stack", "machine", "state", "tasks", "updated"],
            stacks.map((s) => [s.id, s.machine, s.state, tasksSummary(s), s.updatedAt]),
          ),
        );
      }
      return 0;
    }
    if (sub === "show") {
      const stack = await getStack(db, id!);
      if (!stack) {
        process.stderr.write(
          `stackseam stacks: stack ${id} does not exist (never created, or removed: see \`stackseam stacks history ${id}\`)\n`,
        );
        return 1;
      }
      print(values.json ? `${JSON.stringify(stack, null, 2)}\n` : renderStack(stack));
      return 0;
    }
    const rows = await getHistory(db, id!, limit !== undefined ? { limit } : {});
    if (values.json) print(`${JSON.stringify(rows, null, 2)}\n`);
    else if (rows.length === 0) {
      process.stderr.write(`stackseam stacks: no history for stack ${id}\n`);
      return 1;
    } else print(renderHistory(rows));
    return 0;
  } catch (err) {
    process.stderr.write(`stackseam stacks: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}
