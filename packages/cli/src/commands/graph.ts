import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { formatDiagnostic, machineGraph } from "@stackseam/core";
import { parseCommandArgs } from "../registry.js";
import { checkSpecFile, colourDiagnostic } from "./validate.js";

const help = `Usage: stackseam graph <file> [--format mermaid|dot]

Prints one machine's states and transitions as Mermaid (default; paste into Markdown) or
Graphviz DOT (pipe into \`dot -Tsvg\`).

Options:
  -f, --format F   mermaid (default) or dot
  -h, --help       show this help

Exit codes: 0 drawn, 1 the spec has errors, 2 usage error, a folder, missing file or unreadable YAML.
`;

const FORMATS = ["mermaid", "dot"] as const;
type Format = (typeof FORMATS)[number];

function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}

/** `stackseam graph`: exit 0 drawn, 1 the spec has errors, 2 usage error or missing file. */
export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    process.stderr.write(`stackseam graph: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) {
    process.stderr.write(`stackseam graph: give exactly one spec file\n\n${help}`);
    return 2;
  }
  const format = parsed.values.format ?? "mermaid";
  if (!isFormat(format)) {
    process.stderr.write(`stackseam graph: --format must be mermaid or dot, not "${format}"\n`);
    return 2;
  }

  const folder = await folderSpecs(file);
  if (folder) {
    const example = folder[0] ? ` ${join(file, folder[0])}` : " <file>";
    process.stderr.write(
      `stackseam graph: ${file} is a folder; graph draws one machine: stackseam graph${example}\n` +
        `  specs in it: ${folder.length > 0 ? folder.join(", ") : "none (.yml or .yaml)"}\n`,
    );
    return 2;
  }
  let result: Awaited<ReturnType<typeof checkSpecFile>>;
  try {
    result = await checkSpecFile(file);
  } catch (err) {
    process.stderr.write(`stackseam graph: cannot read ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  if (!result.compiled) {
    for (const d of result.diagnostics)
      process.stderr.write(`${colourDiagnostic(formatDiagnostic(d), d.severity, process.stderr)}\n`);
    process.stderr.write(`stackseam graph: ${result.file} is not a valid machine spec\n`);
    return result.unreadable ? 2 : 1;
  }
  // Warnings (unreachable states…) do not stop the drawing but deserve a mention.
  for (const d of result.diagnostics)
    process.stderr.write(`${colourDiagnostic(formatDiagnostic(d), d.severity, process.stderr)}\n`);
  const out = machineGraph(result.compiled, format);
  process.stdout.write(out.endsWith("\n") ? out : `${out}\n`);
  return 0;
}

function parseOptions(args: string[]) {
  return parseCommandArgs<{ format?: string; help?: boolean }>("graph", args);
}

/** The spec files of a folder (sorted), or null when the path is not a folder. */
async function folderSpecs(path: string): Promise<string[] | null> {
  try {
    if (!(await stat(path)).isDirectory()) return null;
    return (await readdir(path)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch {
    return null;
  }
}
