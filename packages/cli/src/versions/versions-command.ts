import type { VersionUsage } from "@stackseam/state-manager";
import { sql } from "kysely";
import { openSpecs, type SpecPlace } from "../spec-access.js";
import { type Cell, table } from "../table.js";
import { formatTime } from "../time.js";
import { openCliDatabase } from "./assess.js";
import { currentPlaces, type SpecsValues } from "./specs-values.js";

/** What the current spec says about a machine's version, or why it could not be read. */
type Current = { version: string; where: string } | { version: null; note: string };

async function currentVersion(place: SpecPlace | null, machine: string): Promise<Current> {
  if (!place) return { version: null, note: "no specs configured (--specs, --bucket, a running dev…)" };
  let specs: Awaited<ReturnType<typeof openSpecs>> | null = null;
  try {
    specs = await openSpecs(place);
    const answer = await specs.lookup(machine);
    if (answer.kind === "found") return { version: answer.machine.version, where: specs.where };
    if (answer.kind === "invalid") return { version: null, note: `the spec in ${specs.where} is invalid` };
    return { version: null, note: `${specs.where} holds no spec of machine ${machine}` };
  } catch (err) {
    return { version: null, note: `could not read the specs: ${(err as Error).message}` };
  } finally {
    specs?.close();
  }
}

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** A duration such as `90s`, `20m`, `1h30m` or `3d`, in milliseconds; null when it is not one. */
export function parseAge(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === "") return null;
  const [d, h, min, s] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number];
  return (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
}

/** `stackseam specs versions <machine>`. */
export async function versions(
  values: SpecsValues,
  machine: string,
  usage: (msg: string) => number,
): Promise<number> {
  const { place, databaseUrl } = currentPlaces(values);
  if (!databaseUrl)
    return usage("no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`");
  const { versionUsage, countUnpinnedStacks } = await import("@stackseam/state-manager");
  const current = await currentVersion(place, machine);
  let rows: VersionUsage[];
  let unpinned: number;
  const db = await openCliDatabase(databaseUrl);
  try {
    rows = await versionUsage(db, machine);
    unpinned = await countUnpinnedStacks(db, machine);
  } catch (err) {
    process.stderr.write(`stackseam specs: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
  if (current.version !== null && !rows.some((r) => r.version === current.version))
    rows.push({ version: current.version, firstUsedAt: null, origin: null, stacks: 0 });

  if (values.json) {
    const out = { machine, current: current.version, unpinnedStacks: unpinned, versions: rows };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0 && unpinned === 0) {
    process.stderr.write(`stackseam specs: no version of machine ${machine} has been used yet\n`);
    return 1;
  }
  const render = { local: values.local === true };
  const note = (r: VersionUsage): Cell => {
    if (r.version === current.version)
      return { text: r.firstUsedAt === null ? "current (not used yet)" : "current", style: "green" };
    return r.firstUsedAt === null ? { text: "not stored", style: "red" } : "";
  };
  process.stdout.write(
    table(
      ["version", "first used", "stacks", "status", "origin"],
      rows.map((r) => [
        r.version,
        r.firstUsedAt ? formatTime(r.firstUsedAt, render) : "-",
        String(r.stacks),
        note(r),
        r.origin ?? "",
      ]),
    ),
  );
  if (unpinned > 0)
    process.stdout.write(
      `${unpinned} stack(s) have no version yet (created before versions): each is pinned to the current version by its next event\n`,
    );
  if (current.version === null) process.stdout.write(`current version unknown: ${current.note}\n`);
  return 0;
}

/** Why a version is kept, or null when prune may delete it. */
function keepReason(
  rows: readonly VersionUsage[],
  i: number,
  current: string,
  cutoff: number,
  age: string,
): string | null {
  const r = rows[i]!;
  if (r.version === current) return "current";
  if (r.stacks > 0) return `${r.stacks} stack(s) run it`;
  const next = rows[i + 1];
  if (!next) return "newest used";
  // A State Manager may use a version until its cached spec is refreshed after the next one was pushed.
  if (next.firstUsedAt !== null && Date.parse(next.firstUsedAt) > cutoff)
    return `replaced less than ${age} ago`;
  return null;
}

/** `stackseam specs prune <machine> [--dry-run]`. */
export async function prune(
  values: SpecsValues,
  machine: string,
  usage: (msg: string) => number,
): Promise<number> {
  const age = values["min-age"] ?? "1h";
  const minAge = parseAge(age);
  if (minAge === null)
    return usage(`--min-age must be a duration such as 90s, 20m, 1h30m or 3d, got "${age}"`);
  const { place, databaseUrl } = currentPlaces(values);
  if (!databaseUrl)
    return usage("no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`");
  const current = await currentVersion(place, machine);
  if (current.version === null) {
    // Unpinned stacks and new stacks run the current version: deleting it blind could strand them.
    process.stderr.write(
      `stackseam specs: cannot tell machine ${machine}'s current version (${current.note}); pass --specs DIR or --bucket B\n`,
    );
    return 1;
  }
  const { versionUsage } = await import("@stackseam/state-manager");
  const db = await openCliDatabase(databaseUrl);
  try {
    const rows = (await versionUsage(db, machine)).filter((r) => r.firstUsedAt !== null);
    const cutoff = Date.now() - minAge;
    const plan = rows.map((r, i) => ({ row: r, keep: keepReason(rows, i, current.version, cutoff, age) }));
    const doomed = plan.filter((p) => p.keep === null).map((p) => p.row.version);
    let deleted = new Set<string>();
    if (!values["dry-run"] && doomed.length > 0) {
      // The stack check is repeated in the statement: a stack pinned meanwhile keeps its version.
      const { rows: gone } = await sql<{ version: string }>`
        DELETE FROM machine_versions v
        WHERE v.machine = ${machine} AND v.version = ANY(${doomed}::text[])
          AND NOT EXISTS (SELECT 1 FROM stacks s WHERE s.machine = v.machine AND s.version = v.version)
        RETURNING v.version`.execute(db);
      deleted = new Set(gone.map((g) => g.version));
    }
    const render = { local: values.local === true };
    const action = (p: (typeof plan)[number]): Cell => {
      if (p.keep !== null) return { text: `keep: ${p.keep}`, style: "dim" };
      if (values["dry-run"]) return { text: "would delete", style: "yellow" };
      return deleted.has(p.row.version)
        ? { text: "deleted", style: "red" }
        : { text: "keep: a stack started running it", style: "dim" };
    };
    if (plan.length > 0) {
      process.stdout.write(
        table(
          ["version", "first used", "stacks", "action"],
          plan.map((p) => [
            p.row.version,
            formatTime(p.row.firstUsedAt!, render),
            String(p.row.stacks),
            action(p),
          ]),
        ),
      );
    }
    process.stdout.write(
      values["dry-run"]
        ? `would delete ${doomed.length} of ${rows.length} stored version(s) of machine ${machine}\n`
        : `deleted ${deleted.size} of ${rows.length} stored version(s) of machine ${machine}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`stackseam specs: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}
