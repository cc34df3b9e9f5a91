import { SYSTEM_EVENTS } from "@stackseam/core";
import { type Connection, resolveConnection } from "../connection.js";
import { commands, type OptionTable, type ValueKind } from "../registry.js";
import { findSpecs, openSpecs } from "../spec-access.js";

/** What to offer for the word being completed: words, or the shell's own file/folder completion. */
export type Completion = { words: string[] } | { paths: "files" | "dirs" };

const SHELLS = ["bash", "zsh", "fish"] as const;
/** A TAB must not hang on an unreachable database. */
const DB_TIMEOUT_MS = 2_000;
const MAX_STACKS = 1_000;

/** Options and positionals of a partial command line, as far as they can be told apart. */
interface Line {
  options: Map<string, string[]>;
  positionals: string[];
}

function takesValue(table: OptionTable, word: string): boolean {
  const name = optionName(table, word);
  return name !== null && table[name]?.type === "string" && !word.includes("=");
}

function optionName(table: OptionTable, word: string): string | null {
  if (word.startsWith("--")) {
    const name = word.slice(2).split("=")[0] ?? "";
    return name in table ? name : null;
  }
  if (word.startsWith("-") && word.length === 2) {
    return Object.entries(table).find(([, o]) => o.short === word[1])?.[0] ?? null;
  }
  return null;
}

function readLine(table: OptionTable, words: readonly string[]): Line {
  const options = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const name = word.startsWith("-") ? optionName(table, word) : null;
    if (name === null) {
      if (!word.startsWith("-")) positionals.push(word);
      continue;
    }
    const inline = word.includes("=") ? word.slice(word.indexOf("=") + 1) : undefined;
    const value = table[name]?.type === "string" ? (inline ?? words[++i]) : "";
    options.set(name, [...(options.get(name) ?? []), value ?? ""]);
  }
  return { options, positionals };
}

/** Values from a running dev or DATABASE_URL: stack ids, and each stack's machine and state. */
async function stacksFromDatabase(
  conn: Connection,
): Promise<{ id: string; machine: string; state: string }[]> {
  if (!conn.databaseUrl) return [];
  const sm = await import("@stackseam/state-manager");
  const db = sm.openDatabase(conn.databaseUrl, {
    max: 1,
    applicationName: "stackseam-completion",
    connectionTimeoutMillis: DB_TIMEOUT_MS,
  });
  try {
    return await sm.listStacks(db, { limit: MAX_STACKS });
  } catch {
    return [];
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

async function machinesFromSpecs(conn: Connection, specsFlag: string | undefined) {
  const place = findSpecs({ specsFlag, dev: conn.dev });
  if (!place) return [];
  try {
    const specs = await openSpecs(place);
    try {
      const found = [];
      for (const name of await specs.names()) {
        const answer = await specs.lookup(name);
        if (answer.kind === "found") found.push(answer.machine);
      }
      return found;
    } finally {
      specs.close();
    }
  } catch {
    return [];
  }
}

const unique = (list: Iterable<string>) => [...new Set(list)].sort();

async function valuesOf(kind: ValueKind, line: Line, conn: Connection): Promise<Completion> {
  if (typeof kind === "object") return { words: [...kind.words] };
  const specsFlag = line.options.get("specs")?.at(-1);
  switch (kind) {
    case "file":
      return { paths: "files" };
    case "dir":
      return { paths: "dirs" };
    case "shell":
      return { words: [...SHELLS] };
    case "stack":
      return { words: (await stacksFromDatabase(conn)).map((s) => s.id) };
    case "machine": {
      const [machines, stacks] = await Promise.all([
        machinesFromSpecs(conn, specsFlag),
        stacksFromDatabase(conn),
      ]);
      return { words: unique([...machines.map((m) => m.name), ...stacks.map((s) => s.machine)]) };
    }
    case "state": {
      const [machines, stacks] = await Promise.all([
        machinesFromSpecs(conn, specsFlag),
        stacksFromDatabase(conn),
      ]);
      return {
        words: unique([...machines.flatMap((m) => [...m.states.keys()]), ...stacks.map((s) => s.state)]),
      };
    }
    case "event": {
      // The events of the stack's machine when it is known (--machine, or the stack's row).
      const machines = await machinesFromSpecs(conn, specsFlag);
      let name = line.options.get("machine")?.at(-1);
      if (name === undefined && line.positionals[0] !== undefined) {
        const stackId = line.positionals[0];
        name = (await stacksFromDatabase(conn)).find((s) => s.id === stackId)?.machine;
      }
      const pool =
        name !== undefined && machines.some((m) => m.name === name)
          ? machines.filter((m) => m.name === name)
          : machines;
      return { words: unique([...pool.flatMap((m) => [...m.events]), ...SYSTEM_EVENTS]) };
    }
    case "text":
      return { words: [] };
  }
}

/**
 * Candidates for the last word of a `stackseam` command line (`words` excludes `stackseam` and
 * includes the word being completed, possibly empty). Commands, options and their fixed values
 * come from the command registry; machines, events, states and stack ids from the specs and the
 * database a command would use (a running dev, DATABASE_URL, --specs).
 */
export async function complete(words: readonly string[]): Promise<Completion> {
  const current = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  if (before.length === 0) {
    return { words: current.startsWith("-") ? ["--help", "--version"] : Object.keys(commands) };
  }
  const entry = commands[before[0]!];
  if (!entry) return { words: [] };
  const table = entry.options;
  const rest = before.slice(1);
  const line = readLine(table, rest);
  const conn = resolveConnection({
    ...(line.options.get("database-url")?.at(-1)
      ? { databaseUrl: line.options.get("database-url")!.at(-1)! }
      : {}),
    ...(line.options.get("queue-url")?.at(-1) ? { queueUrl: line.options.get("queue-url")!.at(-1)! } : {}),
  });

  const previous = rest.at(-1);
  if (previous !== undefined && takesValue(table, previous)) {
    const name = optionName(table, previous)!;
    return valuesOf(table[name]?.value ?? "text", line, conn);
  }
  if (current.startsWith("-")) {
    const used = new Set([...line.options.keys()].filter((n) => !table[n]?.multiple));
    return {
      words: Object.keys(table)
        .filter((n) => !used.has(n))
        .map((n) => `--${n}`),
    };
  }
  const index = line.positionals.length;
  let kind = entry.args[index] ?? entry.rest;
  // `stacks list` takes no stack id.
  if (before[0] === "stacks" && index === 1 && line.positionals[0] === "list") kind = undefined;
  return kind === undefined ? { words: [] } : valuesOf(kind, line, conn);
}
