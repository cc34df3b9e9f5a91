// The dashboard's text search (docs/dashboard.md): a case-insensitive substring of a stack's id or
// of any one of its metadata values; the search's own wildcard characters are literal. Migration
// 011 serves it from one trigram index over the id and the metadata's values as a JSON array, where
// strings are escaped; these cases hold with or without the planner using it.
import {
  countStacks,
  type Database,
  openDatabase,
  runMigrations,
  searchStacks,
} from "@stackseam/state-manager";
import fc from "fast-check";
import { type CompiledQuery, Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { jsonEscaped } from "../src/dashboard-queries.js";

const STACKS: [string, Record<string, string | number | boolean>][] = [
  ["pr-101", { branch: "feature/Login", owner: "ana" }],
  ["pr-102", { branch: "fix/100%_done", owner: "bo" }],
  ["pr-103", { branch: "ab", note: "cd" }],
  ["release-7", {}],
  ["PR-Upper", { branch: "main" }],
  // Characters JSON escapes, and values that are not strings.
  ["win-1", { path: 'C:\\temp\\"x"', note: "tab\there", bell: "ding\u0007!", port: "80" }],
  ["num-1", { replicas: 42, canary: true, ratio: 0.5 }],
  ["uni-1", { owner: "Zoë İnce", emoji: "🚀 ship" }],
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

  /** The statements searchStacks sends for `text`, as Kysely compiled them. */
  async function statementsOf(text: string): Promise<CompiledQuery[]> {
    const seen: CompiledQuery[] = [];
    const logged = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 1 }) }),
      log: (e) => {
        if (e.level === "query") seen.push(e.query);
      },
    });
    try {
      await searchStacks(logged, { text });
    } finally {
      await logged.destroy();
    }
    return seen;
  }

  it("finds text JSON escapes, numbers and booleans, and non-ASCII text", async () => {
    expect(await ids('\\temp\\"x')).toEqual(["win-1"]);
    expect(await ids('"')).toEqual(["win-1"]);
    expect(await ids("\\")).toEqual(["win-1"]);
    expect(await ids("b\the")).toEqual(["win-1"]);
    expect(await ids("g\u0007")).toEqual(["win-1"]);
    expect(await ids("42")).toEqual(["num-1"]);
    expect(await ids("TRUE")).toEqual(["num-1"]);
    expect(await ids("0.5")).toEqual(["num-1"]);
    expect(await ids("zoë")).toEqual(["uni-1"]);
    expect(await ids("🚀 sh")).toEqual(["uni-1"]);
    // Keys are not in the indexed text, and the JSON around the values never matches.
    expect(await ids("replicas")).toEqual([]);
    expect(await ids('": "')).toEqual([]);
    expect(await ids("80")).toEqual(["win-1"]);
  });

  it("escapes text as Postgres writes it inside a jsonb string", async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // Every character but NUL (which text cannot hold) below 0x80, and a few beyond.
      const texts = [
        ...Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1)),
        "é",
        "€",
        "🚀",
        'a"b\\c\nd',
      ];
      const { rows } = await client.query<{ out: string }>(
        "SELECT to_jsonb(t)::text AS out FROM unnest($1::text[]) WITH ORDINALITY AS x(t, i) ORDER BY i",
        [texts],
      );
      expect(rows.map((r) => r.out)).toEqual(texts.map((t) => `"${jsonEscaped(t)}"`));
      // What the index holds: the id and the values, not the keys.
      const indexed = await client.query<{ text: string }>(
        `SELECT stackseam_search_text('pr-9', '{"branch": "a\\"b", "n": 42}') AS text`,
      );
      // (jsonb keeps keys shortest first: n before branch)
      expect(indexed.rows[0]?.text).toBe('pr-9\n[42, "a\\"b"]');
    } finally {
      await client.end();
    }
  });

  it("reads the trigram index, not every stack, for text as typed and text JSON escapes", async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      for (const text of ["feature/login", 'temp\\"x']) {
        const statements = await statementsOf(text);
        expect(statements).toHaveLength(1);
        const [q] = statements as [CompiledQuery];
        const plan = (
          await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${q.sql}`, [...q.parameters])
        ).rows
          .map((row) => row["QUERY PLAN"])
          .join("\n");
        expect(plan).toContain("stacks_search_trgm");
        expect(plan).not.toContain("Seq Scan");
      }
    } finally {
      await client.end();
    }
  });

  // The index only narrows the rows: what it answers for a piece of a value (as typed, or in
  // another case) must include that value's stack, whatever characters the value holds.
  it("never misses a stack whose value holds the text (random values, the index forced)", async () => {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const chars = fc.constantFrom(...'aZ09-_%./ "\\\n\t\r\b\f\u0001\u001fé€İ🚀'.split(/(?:)/u));
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(chars, { minLength: 3, maxLength: 24 }).map((a) => a.join("")),
          fc.nat(),
          fc.integer({ min: 3, max: 8 }),
          fc.boolean(),
          fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
          fc.constantFrom("value", "value", "value", "number", "id"),
          async (value, at, length, upper, number, target) => {
            const id = `fc-${n++}-Ab.c_d`;
            await admin.query(
              "INSERT INTO stacks (id, machine, state, metadata, tasks) VALUES ($1, 'qa-env', 'RUN', $2, '[]')",
              [id, JSON.stringify({ v: value, n: number, other: "zzz" })],
            );
            // The number as Postgres writes it (jsonb_each_text), which the search looks in.
            const held =
              target === "id"
                ? id
                : target === "number"
                  ? ((
                      await admin.query<{ t: string }>(
                        "SELECT metadata->>'n' AS t FROM stacks WHERE id = $1",
                        [id],
                      )
                    ).rows[0]?.t ?? "")
                  : value;
            // By code point: half of a surrogate pair is no text a value holds.
            const points = [...held];
            const start = at % Math.max(1, points.length - 2);
            const piece = points.slice(start, start + length).join("");
            // Only ASCII letters change case: the database's collation decides what others fold to.
            const found = await ids(upper ? piece.replace(/[a-z]/g, (c) => c.toUpperCase()) : piece);
            await admin.query("DELETE FROM stacks WHERE id = $1", [id]);
            expect(found).toContain(id);
          },
        ),
        { numRuns: 100 },
      );
    } finally {
      await admin.end();
    }
  });

  // Under ICU a capital sigma lower-cases by the letters beside it, and in the indexed text an
  // escape puts a letter beside a value's character (a tab is written \t): such a search must
  // still find what the value holds.
  it("finds a Greek sigma beside an escaped character on a database that lower-cases with ICU", async (ctx) => {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const name = `${new URL(database.url).pathname.slice(1)}_icu`;
    try {
      await admin.query(
        `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C.UTF-8'`,
      );
    } catch (err) {
      await admin.end();
      console.log(`skipped: this server cannot create an ICU database (${(err as Error).message})`);
      ctx.skip();
      return;
    }
    const url = new URL(database.url);
    url.pathname = `/${name}`;
    const icu = openDatabase(url.toString(), { max: 1, applicationName: "stackseam-search-test" });
    try {
      await runMigrations(url.toString());
      await sql`INSERT INTO stacks (id, machine, state, metadata, tasks) VALUES ('greek-1', 'qa-env', 'RUN', ${JSON.stringify({ v: "\tΣα" })}, '[]'), ('greek-2', 'qa-env', 'RUN', ${JSON.stringify({ v: "x\nΣ" })}, '[]')`.execute(
        icu,
      );
      await sql`SET enable_seqscan = off`.execute(icu);
      const found = async (text: string) => (await searchStacks(icu, { text })).stacks.map((s) => s.id);
      expect(await found("\tΣ")).toEqual(["greek-1"]);
      expect(await found("Σ")).toEqual(["greek-1", "greek-2"]);
      expect(await found("σα")).toEqual(["greek-1"]);
    } finally {
      await icu.destroy();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  // Migrations 008 and 011 skip the index on a server without pg_trgm; the search then scans.
  it("answers what the search means, with and without the trigram index", async () => {
    const searches = [
      "pr-10",
      "upper",
      "LOGIN",
      "100%_",
      "ab\ncd",
      "cd",
      "nothing-like-this",
      '"x',
      "42",
      "zoë",
      "replicas",
      "ding\u0007",
      "Σ",
    ];
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      // What the search means (docs/dashboard.md), asked of every stack without any index.
      const meant = async (text: string) =>
        (
          await admin.query<{ id: string }>(
            `SELECT id FROM stacks WHERE id ILIKE $1 OR EXISTS (SELECT 1 FROM jsonb_each_text(metadata) m WHERE m.value ILIKE $1) ORDER BY id`,
            [`%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
          )
        ).rows.map((r) => r.id);
      const expected = await Promise.all(searches.map(meant));
      expect(await Promise.all(searches.map(ids))).toEqual(expected);
      await admin.query("DROP INDEX stacks_search_trgm");
      expect(await Promise.all(searches.map(ids))).toEqual(expected);
    } finally {
      await admin.end();
    }
  });
});
