import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { type Diagnostic, type Machine, parseSpec } from "@stackseam/core";
import { machineNameOf } from "@stackseam/state-manager";

/** One spec file as `specs push` and `specs diff` read it. */
export interface SpecFile {
  file: string;
  name: string;
  text: string;
  /** Undefined when the spec has an error. */
  machine?: Machine;
  diagnostics: Diagnostic[];
}

/** What reading a file or folder of specs found: the specs, and problems that are not a spec's own. */
export interface SpecFiles {
  specs: SpecFile[];
  /** `file:1:1: error: …` lines for files that are no usable machine (bad name, duplicate). */
  problems: string[];
}

/** Thrown when the path given is neither a spec file nor a folder. */
export class SpecPathError extends Error {}

/**
 * Reads one .yml/.yaml file, or every one directly inside a folder, and compiles each the way the
 * State Manager does (the file name without its extension is the machine name).
 */
export async function readSpecFiles(path: string): Promise<SpecFiles> {
  let files: string[];
  try {
    const info = await stat(path);
    files = info.isDirectory()
      ? (await readdir(path))
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => join(path, f))
      : [path];
  } catch (err) {
    throw new SpecPathError(`${path}: no such file or folder`, { cause: err });
  }
  const specs: SpecFile[] = [];
  const problems: string[] = [];
  const byName = new Map<string, string>();
  for (const file of files) {
    const fileName = basename(file);
    const name = /\.ya?ml$/.test(fileName) ? machineNameOf(fileName) : null;
    if (!name) {
      problems.push(
        `${file}:1:1: error: "${fileName}" is not a usable machine name (letters, digits, . _ -)`,
      );
      continue;
    }
    const other = byName.get(name);
    if (other) {
      problems.push(`${file}:1:1: error: machine ${name} is also defined by ${other}`);
      continue;
    }
    byName.set(name, file);
    const text = await readFile(file, "utf8");
    const { machine, diagnostics } = parseSpec(text, { name, file });
    specs.push({ file, name, text, diagnostics, ...(machine ? { machine } : {}) });
  }
  return { specs, problems };
}
