import { parseArgs } from "node:util";

/** A CLI command: `run` gets the arguments after the command name and returns the exit code. */
export interface CommandModule {
  run(args: string[]): Promise<number>;
}

/** What a value is, so shell completion can offer the right candidates. */
export type ValueKind =
  | "machine"
  | "stack"
  | "event"
  | "state"
  | "file"
  | "dir"
  | "shell"
  | { words: readonly string[] }
  | "text";

/** One option: what `parseArgs` needs, plus what completion offers for its value. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  value?: ValueKind;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

interface CommandEntry {
  summary: string;
  options: OptionTable;
  /** Positional arguments in order (for completion); `rest` repeats for the remaining ones. */
  args: readonly ValueKind[];
  rest?: ValueKind;
  load(): Promise<CommandModule>;
}

const help: OptionSpec = { type: "boolean", short: "h" };
const json: OptionSpec = { type: "boolean" };
const databaseUrl: OptionSpec = { type: "string", value: "text" };
const queueUrl: OptionSpec = { type: "string", value: "text" };
const specs: OptionSpec = { type: "string", value: "dir" };
// Failure texts: one line in tables by default (the first `Error:` line), everything with --full.
const full: OptionSpec = { type: "boolean" };
// What `wait` and `send --wait` share.
const waitOptions: OptionTable = {
  state: { type: "string", value: "state" },
  timeout: { type: "string", value: "text" },
  full,
  quiet: { type: "boolean" },
};

// Lazy imports keep `stackseam validate` from loading the AWS SDK or pg.
export const commands: Readonly<Record<string, CommandEntry>> = {
  validate: {
    summary: "validate machine specs (files or folders)",
    options: { json, help },
    args: [],
    rest: "file",
    load: () => import("./commands/validate.js"),
  },
  graph: {
    summary: "draw a machine as Mermaid or DOT",
    options: { format: { type: "string", short: "f", value: { words: ["mermaid", "dot"] } }, help },
    args: ["file"],
    load: () => import("./commands/graph.js"),
  },
  migrate: {
    summary: "apply database migrations",
    options: { "database-url": databaseUrl, dir: { type: "string", value: "dir" }, help },
    args: [],
    load: () => import("./commands/migrate.js"),
  },
  prune: {
    summary: "delete history, sent task messages and finished notifications past a retention",
    options: {
      "history-older-than": { type: "string", value: "text" },
      "outbox-older-than": { type: "string", value: "text" },
      "notifications-older-than": { type: "string", value: "text" },
      "batch-size": { type: "string", value: "text" },
      pause: { type: "string", value: "text" },
      json,
      "database-url": databaseUrl,
      help,
    },
    args: [],
    load: () => import("./commands/prune.js"),
  },
  send: {
    summary: "publish an event to the event queue",
    options: {
      machine: { type: "string", value: "machine" },
      meta: { type: "string", multiple: true, value: "text" },
      "event-id": { type: "string", value: "text" },
      task: { type: "string", value: "text" },
      token: { type: "string", value: "text" },
      description: { type: "string", value: "text" },
      ttl: { type: "string", value: { words: ["3d", "never", "default"] } },
      "queue-url": queueUrl,
      specs,
      "no-check": { type: "boolean" },
      "dry-run": { type: "boolean" },
      json,
      wait: { type: "boolean" },
      ...waitOptions,
      "database-url": databaseUrl,
      help,
    },
    args: ["stack", "event"],
    load: () => import("./commands/send.js"),
  },
  wait: {
    summary: "block until a stack is settled (exit codes for pipelines)",
    options: {
      "event-id": { type: "string", value: "text" },
      ...waitOptions,
      json,
      "database-url": databaseUrl,
      help,
    },
    args: ["stack"],
    load: () => import("./commands/wait.js"),
  },
  stacks: {
    summary: "list stacks, show one, read its history and outputs",
    options: {
      "database-url": databaseUrl,
      json,
      full,
      local: { type: "boolean" },
      limit: { type: "string", value: "text" },
      machine: { type: "string", value: "machine" },
      state: { type: "string", value: "state" },
      after: { type: "string", value: "stack" },
      // stacks upgrade
      "dry-run": { type: "boolean" },
      "queue-url": queueUrl,
      specs,
      follow: { type: "boolean", short: "f" },
      watch: { type: "boolean", short: "w" },
      help,
    },
    args: [{ words: ["list", "show", "history", "outputs", "upgrade"] }, "stack"],
    load: () => import("./commands/stacks.js"),
  },
  timers: {
    summary: "list due and upcoming timers (timeouts, retries, TTLs) and schedules",
    options: {
      due: { type: "boolean" },
      limit: { type: "string", value: "text" },
      json,
      local: { type: "boolean" },
      "database-url": databaseUrl,
      help,
    },
    args: [],
    load: () => import("./commands/timers.js"),
  },
  tick: {
    summary: "fire what is due now (timers, schedules, stuck task messages), once",
    options: {
      "database-url": databaseUrl,
      "task-queue-url": queueUrl,
      specs,
      json,
      help,
    },
    args: [],
    load: () => import("./commands/tick.js"),
  },
  specs: {
    summary: "push specs (with their impact on live stacks), diff them, list and prune versions",
    options: {
      bucket: { type: "string", value: "text" },
      prefix: { type: "string", value: "text" },
      specs,
      "database-url": databaseUrl,
      force: { type: "boolean" },
      "min-age": { type: "string", value: "text" },
      "dry-run": { type: "boolean" },
      local: { type: "boolean" },
      json,
      help,
    },
    args: [{ words: ["push", "diff", "versions", "prune"] }, "dir"],
    load: () => import("./commands/specs.js"),
  },
  task: {
    summary: "run a task message locally",
    options: {
      "dry-run": { type: "boolean" },
      functions: { type: "string", value: "dir" },
      "terraform-bin": { type: "string", value: "file" },
      "queue-url": queueUrl,
      "no-send": { type: "boolean" },
      timeout: { type: "string", value: "text" },
      stack: { type: "string", value: "stack" },
      task: { type: "string", value: "text" },
      specs,
      "database-url": databaseUrl,
      help,
    },
    args: [{ words: ["run"] }, "file"],
    load: () => import("./commands/task.js"),
  },
  dev: {
    summary: "run the whole system on this machine",
    options: {
      specs,
      functions: { type: "string", value: "dir" },
      port: { type: "string", value: "text" },
      "data-dir": { type: "string", value: "dir" },
      help,
    },
    args: [],
    load: () => import("./commands/dev.js"),
  },
  ui: {
    summary: "serve the dashboard (stacks, machines, history) in the browser",
    options: {
      port: { type: "string", value: "text" },
      host: { type: "string", value: "text" },
      token: { type: "string", value: "text" },
      "read-only": { type: "boolean" },
      "database-url": databaseUrl,
      "queue-url": queueUrl,
      specs,
      help,
    },
    args: [],
    load: () => import("./commands/ui.js"),
  },
  completion: {
    summary: "print a shell completion script (bash, zsh, fish)",
    options: { help },
    args: ["shell"],
    load: () => import("./commands/completion.js"),
  },
};

/** Options as `parseArgs` takes them (without the completion hints). */
function parseArgsOptions(table: OptionTable) {
  return Object.fromEntries(
    Object.entries(table).map(([name, o]) => [
      name,
      {
        type: o.type,
        ...(o.short !== undefined ? { short: o.short } : {}),
        ...(o.multiple !== undefined ? { multiple: o.multiple } : {}),
      },
    ]),
  );
}

/** Parses a command's arguments against its option table; throws on unknown or malformed options. */
export function parseCommandArgs<V>(
  name: keyof typeof commands,
  args: string[],
): { values: V; positionals: string[] } {
  const entry = commands[name];
  if (!entry) throw new Error(`no command ${String(name)}`);
  const { values, positionals } = parseArgs({
    args,
    options: parseArgsOptions(entry.options),
    allowPositionals: true,
    strict: true,
  });
  return { values: values as V, positionals };
}
