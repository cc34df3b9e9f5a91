import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FULL } from "./sizes.js";

/**
 * The parts of a full run, each written by one test once its assertions passed. When the last one
 * arrives, docs/reliability.md is written from them (see reliability-doc.ts): the document's
 * figures come from the run that measured them, never from a person's typing.
 */
export const PARTS = [
  "stress",
  "faults",
  "mutation",
  "fuzz-state-manager",
  "fuzz-task-satisfier",
  "fuzz-parse-spec",
  "satisfier-output",
  "security-metadata",
  "security-traversal",
] as const;
export type Part = (typeof PARTS)[number];

export const DOC = fileURLToPath(new URL("../../../docs/reliability.md", import.meta.url));

/** One part's figures, with when it ran (the run's total time is the span of all parts). */
export interface PartFigures {
  part: Part;
  startedAt: number;
  endedAt: number;
  figures: unknown;
}

/**
 * The run a test file belongs to: every test file of one `vitest run` is a child of the same
 * vitest process (the forks pool), so its pid and start time name the run.
 */
function runKey(): string {
  let started = "0";
  try {
    // Field 22 of /proc/<pid>/stat is the start time; the command field may hold spaces, so
    // count from the closing parenthesis.
    const stat = readFileSync(`/proc/${process.ppid}/stat`, "utf8");
    started = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "0";
  } catch {
    // Not Linux: the parent pid alone.
  }
  return `${process.ppid}-${started}`;
}

const FIGURES_DIR = join(tmpdir(), "stackseam-reliability-figures");
const started = new Map<Part, number>();

/** Marks the start of a part (its figures' time span starts here). */
export function partStarted(part: Part): void {
  started.set(part, Date.now());
}

/**
 * Records a part's figures (full run only) and, when every part of this run is in, regenerates
 * docs/reliability.md. Call it after the part's assertions passed, so a failed run writes nothing.
 */
export async function recordFigures(part: Part, figures: unknown): Promise<void> {
  if (!FULL) return;
  const dir = join(FIGURES_DIR, runKey());
  await mkdir(dir, { recursive: true });
  const entry: PartFigures = {
    part,
    startedAt: started.get(part) ?? Date.now(),
    endedAt: Date.now(),
    figures,
  };
  const file = join(dir, `${part}.json`);
  await writeFile(`${file}.tmp`, JSON.stringify(entry, null, 2));
  await rename(`${file}.tmp`, file);
  const present = new Set((await readdir(dir)).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)));
  if (!PARTS.every((p) => present.has(p))) return;
  const parts = new Map<Part, PartFigures>();
  for (const p of PARTS)
    parts.set(p, JSON.parse(await readFile(join(dir, `${p}.json`), "utf8")) as PartFigures);
  const { renderReliabilityDoc } = await import("./reliability-doc.js");
  const text = await renderReliabilityDoc(parts);
  await writeFile(`${DOC}.tmp`, text);
  await rename(`${DOC}.tmp`, DOC);
  console.log(`docs/reliability.md regenerated from this full run (${PARTS.length} parts)`);
}
