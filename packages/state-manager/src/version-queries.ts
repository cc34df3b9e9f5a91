// Read side of machine versions: what `stackseam specs versions|diff|push` and `stacks upgrade`
// show about the versions stacks run. Nothing here is on the event path.
import type { StackTask, TaskStatus } from "@stackseam/core";
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.js";

/** One stored version of a machine: what `stacks show` and `wait --state` need of it. */
export interface StoredVersion {
  version: string;
  firstUsedAt: string;
  /** Where its text was loaded from (s3://… or a file), when known. */
  origin: string | null;
}

/** One version of a machine with how many live stacks run it. */
export interface VersionUsage extends Omit<StoredVersion, "firstUsedAt"> {
  /** When an event first used it; null for a version stacks run that is not in the table. */
  firstUsedAt: string | null;
  stacks: number;
}

/** The live stacks of a machine that are alike for an upgrade: same version, state and tasks. */
export interface StackGroup {
  /** Null: a stack created before versions (pinned to the current version by its next event). */
  version: string | null;
  state: string;
  tasks: Pick<StackTask, "name" | "status">[];
  count: number;
  /** The first few stack ids of the group, by id. */
  sample: string[];
}

/** How many stack ids a group carries for people to read. */
const SAMPLE_IDS = 5;

/**
 * The versions of `machine` stored in machine_versions, oldest first use first. Reads only that
 * table: counting the stacks on each (versionUsage) reads every stack of the machine.
 */
export async function storedVersions(db: Kysely<Database>, machine: string): Promise<StoredVersion[]> {
  const rows = await db
    .selectFrom("machine_versions")
    .select(["version", "first_used_at", "origin"])
    .where("machine", "=", machine)
    .orderBy("first_used_at")
    .orderBy("version")
    .execute();
  return rows.map((r) => ({
    version: r.version,
    firstUsedAt: r.first_used_at.toISOString(),
    origin: r.origin,
  }));
}

/**
 * The versions of `machine` stored in machine_versions, oldest first use first, with their live
 * stack counts; versions stacks run without a stored row (never expected) come last.
 */
export async function versionUsage(db: Kysely<Database>, machine: string): Promise<VersionUsage[]> {
  const [stored, counts] = await Promise.all([
    storedVersions(db, machine),
    db
      .selectFrom("stacks")
      .select(["version", (eb) => eb.fn.countAll<string>().as("n")])
      .where("machine", "=", machine)
      .where("version", "is not", null)
      .groupBy("version")
      .execute(),
  ]);
  const byVersion = new Map(counts.map((c) => [c.version!, Number(c.n)]));
  const rows: VersionUsage[] = stored.map((r) => ({ ...r, stacks: byVersion.get(r.version) ?? 0 }));
  const known = new Set(rows.map((r) => r.version));
  for (const [version, n] of [...byVersion].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!known.has(version)) rows.push({ version, firstUsedAt: null, origin: null, stacks: n });
  }
  return rows;
}

/** How many live stacks of `machine` have no version yet (created before versions existed). */
export async function countUnpinnedStacks(db: Kysely<Database>, machine: string): Promise<number> {
  const row = await db
    .selectFrom("stacks")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("machine", "=", machine)
    .where("version", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The stored text of one version, or null when it is not in machine_versions. */
export async function storedVersion(
  db: Kysely<Database>,
  machine: string,
  version: string,
): Promise<{ source: string; origin: string | null; firstUsedAt: string } | null> {
  const row = await db
    .selectFrom("machine_versions")
    .select(["source", "origin", "first_used_at"])
    .where("machine", "=", machine)
    .where("version", "=", version)
    .executeTakeFirst();
  return row
    ? { source: row.source, origin: row.origin, firstUsedAt: row.first_used_at.toISOString() }
    : null;
}

/**
 * The live stacks of `machine` grouped by version, state and held tasks (name and status, in the
 * stack's order): everything an upgrade check looks at, without reading every stack.
 */
export async function stackGroups(db: Kysely<Database>, machine: string): Promise<StackGroup[]> {
  const { rows } = await sql<{
    version: string | null;
    state: string;
    tasks: { name: string; status: TaskStatus }[];
    n: string;
    sample: string[];
  }>`
    SELECT s.version, s.state, t.tasks, count(*) AS n, (array_agg(s.id ORDER BY s.id))[1:${SAMPLE_IDS}] AS sample
    FROM stacks s,
      LATERAL (SELECT coalesce(jsonb_agg(jsonb_build_object('name', e->>'name', 'status', e->>'status') ORDER BY i),
                               '[]'::jsonb) AS tasks
               FROM jsonb_array_elements(coalesce(s.tasks, '[]'::jsonb)) WITH ORDINALITY AS x(e, i)) t
    WHERE s.machine = ${machine}
    GROUP BY s.version, s.state, t.tasks
    ORDER BY s.version NULLS FIRST, s.state, count(*) DESC`.execute(db);
  return rows.map((r) => ({
    version: r.version,
    state: r.state,
    tasks: r.tasks,
    count: Number(r.n),
    sample: r.sample,
  }));
}
