#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { printable } from "@stackseam/core";
import { paint } from "./colour.js";
import { errorText } from "./error-text.js";
import { commands } from "./registry.js";

const usage = `stackseam — event-driven state machines for infrastructure stacks

Usage: stackseam <command> [options]    (stackseam <command> --help for a command's options)
       stackseam --version

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}
`;

/** The CLI's own version, from the package.json next to dist/ (also inside an installed package). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version?: string;
  };
  return pkg.version ?? "unknown";
}

/** Dispatches to a command module; exit codes: 0 ok, 1 failure, 2 usage error. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    process.stdout.write(`stackseam ${version()}\n`);
    return 0;
  }
  // Called by the completion scripts at each TAB; not a command people type.
  if (name === "__complete") return (await import("./commands/completion.js")).candidates(rest);
  const command = commands[name];
  if (!command) {
    process.stderr.write(`stackseam: unknown command "${printable(name)}"\n\n${usage}`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest);
}

// `stackseam … | head` closes the pipe early (EPIPE), a closed terminal answers EIO: nobody is left
// to read, which is not an error to report.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE" && err.code !== "EIO") throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${paint("red", "stackseam:", process.stderr)} ${errorText(err)}\n`);
    if (process.env.STACKSEAM_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
