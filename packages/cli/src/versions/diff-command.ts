import { formatDiagnostic, type Machine } from "@stackseam/core";
import { assessMachines } from "./assess.js";
import { renderAssessment } from "./render.js";
import { readSpecFiles, SpecPathError } from "./spec-files.js";
import { currentPlaces, type SpecsValues } from "./specs-values.js";

/** `stackseam specs diff <file|dir>`: the push report without the push. */
export async function diff(
  values: SpecsValues,
  path: string,
  usage: (msg: string) => number,
): Promise<number> {
  let read: Awaited<ReturnType<typeof readSpecFiles>>;
  try {
    read = await readSpecFiles(path);
  } catch (err) {
    if (err instanceof SpecPathError) return usage(err.message);
    throw err;
  }
  for (const line of read.problems) process.stderr.write(`${line}\n`);
  for (const s of read.specs) for (const d of s.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  const valid = read.specs.filter((s): s is typeof s & { machine: Machine } => s.machine !== undefined);
  if (read.specs.length === 0 && read.problems.length === 0) {
    process.stderr.write(`stackseam specs: ${path} holds no .yml or .yaml files\n`);
    return 1;
  }
  const { place, databaseUrl } = currentPlaces(values);
  const assessments = await assessMachines(
    valid.map((s) => s.machine),
    { place, databaseUrl },
  );
  for (const a of assessments) process.stdout.write(`${renderAssessment(a)}\n`);
  const invalid = read.problems.length + read.specs.length - valid.length;
  if (invalid > 0) process.stderr.write(`stackseam specs: ${invalid} invalid spec(s) not compared\n`);
  return invalid > 0 ? 1 : 0;
}
