// The dashboard's text search (docs/dashboard.md): a case-insensitive substring of a stack's id or
// of any one of its metadata values; the search's own wildcard characters are literal. Migration
// 008 serves it from trigram indexes; these cases hold with or without the planner using them.
import { countStacks, type Database, openDatabase, searchStacks } from "@stackseam/state-manager";
import type { Kysely } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";

const STACKS: [string, Record<string, string>][] = [
  ["pr-101", { branch: "feature/Login", owner: "ana" }],
  ["pr-102", { branch: "fix/100%_done", owner: "bo" }],
  ["pr-103", { branch: "ab", note: "cd" }],
  ["release-7", {}],
  ["PR-Upper", { branch: "main" }],
];

describe("stack text search", () => {
  let database: TestDatabase;
  let db: Kysely<Database>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      for (const [id, metadata] of STACKS) {
        await admin.query(
          "INSERT INTO stacks (id, machine, state, metadata, tasks) VALUES ($1, 'qa-env', 'RUN', $2, '[]')",
          [id, JSON.stringify(metadata)],
        );
      }
      // Few rows would always be scanned; without seqscan the planner must take the indexes.
      await admin.query(
        `ALTER DATABASE "${new URL(database.url).pathname.slice(1)}" SET enable_seqscan = off`,
      );
    } finally {
      await admin.end();
    }
    db = openDatabase(database.url, { max: 1, applicationName: "stackseam-search-test" });
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  const ids = async (text: string) => (await searchStacks(db, { text })).stacks.map((s) => s.id);

  it("finds a substring of the id or of a metadata value, whatever its case", async () => {
    expect(await ids("pr-10")).toEqual(["pr-101", "pr-102", "pr-103"]);
    expect(await ids("upper")).toEqual(["PR-Upper"]);
    expect(await ids("LOGIN")).toEqual(["pr-101"]);
    expect(await ids("feature/log")).toEqual(["pr-101"]);
    expect(await countStacks(db, { text: "pr-" })).toEqual({ count: 4, capped: false });
  });

  it("takes % and _ literally", async () => {
    expect(await ids("100%_")).toEqual(["pr-102"]);
    expect(await ids("%")).toEqual(["pr-102"]);
    expect(await ids("_")).toEqual(["pr-102"]);
  });

  it("does not match across two values of one stack", async () => {
    expect(await ids("ab\ncd")).toEqual([]);
    expect(await ids("b\nc")).toEqual([]);
    expect(await ids("cd")).toEqual(["pr-103"]);
  });

  it("finds nothing for text no stack holds", async () => {
    expect(await ids("nothing-like-this")).toEqual([]);
    expect(await countStacks(db, { text: "nothing-like-this" })).toEqual({ count: 0, capped: false });
  });

  it("reads the trigram indexes, not every stack", async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const plan = await client
      .query<{ "QUERY PLAN": string }>(
        "EXPLAIN SELECT id FROM stacks WHERE id ILIKE $1 OR stackseam_metadata_text(metadata) ILIKE $1",
        ["%feature/login%"],
      )
      .then((r) => r.rows.map((row) => row["QUERY PLAN"]).join("\n"))
      .finally(() => client.end());
    expect(plan).toContain("stacks_id_trgm");
    expect(plan).toContain("stacks_metadata_trgm");
  });

  // Migration 008 skips the indexes on a server without pg_trgm; the search then scans.
  it("gives the same answers without the trigram indexes", async () => {
    const searches = ["pr-10", "upper", "LOGIN", "100%_", "ab\ncd", "cd", "nothing-like-this"];
    const withIndexes = await Promise.all(searches.map(ids));
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query("DROP INDEX stacks_id_trgm, stacks_metadata_trgm");
    } finally {
      await admin.end();
    }
    expect(await Promise.all(searches.map(ids))).toEqual(withIndexes);
  });
});
