#!/usr/bin/env node
import { commands } from "./registry.js";

const usage = `stackseam — event-driven state machines for infrastructure stacks

Usage: stackseam <command> [options]    (stackseam <command> --help for a command's options)

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}
`;

/** Dispatches to a command module; exit codes: 0 ok, 1 failure, 2 usage error. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`stackseam: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`stackseam: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.STACKSEAM_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
