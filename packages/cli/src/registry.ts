/** A CLI command: `run` gets the arguments after the command name and returns the exit code. */
export interface CommandModule {
  run(args: string[]): Promise<number>;
}

interface CommandEntry {
  summary: string;
  load(): Promise<CommandModule>;
}

// Lazy imports keep `stackseam validate` from loading the AWS SDK or pg.
export const commands: Record<string, CommandEntry> = {
  validate: {
    summary: "validate machine specs (files or folders)",
    load: () => import("./commands/validate.js"),
  },
  graph: { summary: "draw a machine as Mermaid or DOT", load: () => import("./commands/graph.js") },
  migrate: { summary: "apply database migrations", load: () => import("./commands/migrate.js") },
  send: { summary: "publish an event to the event queue", load: () => import("./commands/send.js") },
  stacks: { summary: "list stacks, show one, read its history", load: () => import("./commands/stacks.js") },
  specs: { summary: "push validated specs to S3", load: () => import("./commands/specs.js") },
  task: { summary: "run a task message locally", load: () => import("./commands/task.js") },
  dev: { summary: "run the whole system on this machine", load: () => import("./commands/dev.js") },
};
