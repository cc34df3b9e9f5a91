import { resolve } from "node:path";
import { complete } from "../completion/candidates.js";
import { bashScript, fishScript, zshScript } from "../completion/scripts.js";
import { parseCommandArgs } from "../registry.js";

const help = `Usage: stackseam completion bash|zsh|fish

Prints a shell completion script for stackseam: commands, options, machine names, events, states
and stack ids (from the specs and database a command would use: a running dev, DATABASE_URL).

  bash   source <(stackseam completion bash)            (add it to ~/.bashrc)
  zsh    source <(stackseam completion zsh)             (in ~/.zshrc, after compinit)
  fish   stackseam completion fish | source             (or save it in ~/.config/fish/completions/stackseam.fish)

Options:
  -h, --help   show this help
`;

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

/** `stackseam completion <shell>`. */
export async function run(args: string[]): Promise<number> {
  let values: { help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs<{ help?: boolean }>("completion", args));
  } catch (err) {
    process.stderr.write(`stackseam completion: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [shell, ...extra] = positionals;
  if (!shell || extra.length > 0 || !Object.hasOwn(SCRIPTS, shell)) {
    process.stderr.write(`stackseam completion: expected bash, zsh or fish\n\n${help}`);
    return 2;
  }
  const self = { node: process.execPath, script: resolve(process.argv[1] ?? "stackseam") };
  process.stdout.write(SCRIPTS[shell as keyof typeof SCRIPTS](self));
  return 0;
}

/** `stackseam __complete <words…>`: the candidates for the last word, one per line (for the scripts). */
export async function candidates(words: string[]): Promise<number> {
  try {
    const result = await complete(words);
    const lines = "paths" in result ? [`:${result.paths}`] : result.words;
    if (lines.length > 0) process.stdout.write(`${lines.join("\n")}\n`);
  } catch {
    // A completion that fails offers nothing; it must never print errors into the prompt.
  }
  return 0;
}
