// Migration 009: the history trigger notifies only stacks a feed has registered for. Without a
// registration an event's transaction queues no notification (what the State Manager's commits
// used to serialise on); a registered stack wakes its feed; closing drops the registration; a
// transaction that checked for listeners before the registration and commits after it is still
// seen; a role that may only read can register (one denied the function polls); a database
// before 009 notifies every stack. Migration 010: the trigger's function runs only for stacks whose
// gate a registered feed holds; a writer that passed the gate keeps a registration waiting until
// it commits, and one that keeps it too long makes the feed poll.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { defaultMigrationsDir } from "@stackseam/state-manager";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { channelOf, openStackFeed } from "../src/watch/feed.js";

/** Resolves with the payloads `client` heard on `channel` within `ms`. */
async function heardWithin(client: pg.Client, channel: string, ms: number, act: () => Promise<unknown>) {
  const heard: string[] = [];
  const on = (n: pg.Notification) => {
    if (n.channel === channel) heard.push(n.payload ?? "");
  };
  client.on("notification", on);
  try {
    await act();
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    client.off("notification", on);
  }
  return heard;
}

describe("notifications only for stacks someone waits on (migration 009)", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let client: pg.Client;
  let ear: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // A bare LISTEN that never registers: it hears what the trigger sends, nothing more.
    ear = new pg.Client({ connectionString: db.url });
    await ear.connect();
  });

  afterAll(async () => {
    await ear?.end();
    await client?.end();
    await db?.drop();
  });

  let key = 0;
  const historyRow = (stackId: string, c: pg.Client = client) =>
    c.query(
      "INSERT INTO history (stack_id, machine, event, event_key, outcome) VALUES ($1, 'm', 'TOUCH', $2, 'applied')",
      [stackId, `k-${++key}`],
    );
  const listeners = async (stackId: string) =>
    (await client.query("SELECT pid FROM stack_listeners WHERE stack_id = $1", [stackId])).rows.map(
      (r) => r.pid as number,
    );

  it("sends nothing for an unwatched stack; a feed registers, wakes, and unregisters on close", async () => {
    const id = "solo-1";
    await ear.query(`LISTEN ${ear.escapeIdentifier(channelOf(id))}`);
    expect(await heardWithin(ear, channelOf(id), 300, () => historyRow(id))).toEqual([]);

    const feed = await openStackFeed(db.url, id);
    const pids = await listeners(id);
    try {
      expect(feed.mode).toBe("listen");
      expect(pids).toHaveLength(1);
      const waking = feed.next(Date.now() + 30_000);
      expect(await heardWithin(ear, channelOf(id), 100, () => historyRow(id))).toEqual([id]);
      expect(await waking).toBe("changed");
    } finally {
      await feed.close();
    }
    expect(await listeners(id)).toEqual([]);
    expect(await heardWithin(ear, channelOf(id), 300, () => historyRow(id))).toEqual([]);
  });

  it("a transaction that checked before the registration is waited for before the first read", async () => {
    const id = "race-1";
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query("BEGIN");
      await historyRow(id, writer); // the trigger finds no listener: no notification for this row
      let committedAt = 0;
      setTimeout(() => {
        void writer.query("COMMIT").then(() => {
          committedAt = Date.now();
        });
      }, 400);
      const feed = await openStackFeed(db.url, id);
      try {
        // Opening returned only once the writer had ended, so the caller's first read sees its row
        // (since 010 the registration waits for the gate the writer took; the drain finds it ended).
        expect(committedAt).toBeGreaterThan(0);
        expect(feed.queries()).toBeGreaterThanOrEqual(4);
      } finally {
        await feed.close();
      }
    } finally {
      await writer.end();
    }
  });

  it("one still open after the first two seconds is re-read for at the next second", async () => {
    const id = "race-2";
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query("BEGIN");
      // In progress when the feed registers, and holding no gate of this stack's (since 010 one
      // that did would hold up the registration itself): for all the feed knows, it looked for
      // listeners before the registration committed and will write this stack's history.
      await historyRow(`${id}-elsewhere`, writer);
      const opened = Date.now();
      const feed = await openStackFeed(db.url, id);
      try {
        expect(Date.now() - opened).toBeGreaterThanOrEqual(1_900);
        await writer.query("COMMIT");
        // Its row woke no one: the feed polls anyway while such a transaction was open.
        const asked = Date.now();
        expect(await feed.next(asked + 20_000)).toBe("poll");
        expect(Date.now() - asked).toBeLessThan(5_000);
        // Then it sleeps again: the next wake-up is the safety poll a minute away, or a row.
        const sleeping = feed.next(Date.now() + 1_000);
        expect(await sleeping).toBe("deadline");
      } finally {
        await feed.close();
      }
    } finally {
      await writer.end().catch(() => {});
    }
  });

  it("drops registrations of sessions that are gone; a role that may only read registers too", async () => {
    await client.query("INSERT INTO stack_listeners (stack_id, pid) VALUES ('ghost-1', 2147483000)");
    const role = `stackseam_feed_ro_${process.pid}`;
    await client.query(`CREATE ROLE ${role} LOGIN`);
    try {
      await client.query(`GRANT SELECT ON stacks, history TO ${role}`);
      const url = new URL(db.url);
      url.username = role;
      url.password = "";
      const feed = await openStackFeed(url.toString(), "ro-1");
      try {
        expect(await listeners("ghost-1")).toEqual([]);
        expect(await listeners("ro-1")).toHaveLength(1);
        const waking = feed.next(Date.now() + 30_000);
        await historyRow("ro-1");
        expect(await waking).toBe("changed");
        // It may not write the table itself.
        const direct = new pg.Client({ connectionString: url.toString() });
        await direct.connect();
        try {
          await expect(
            direct.query("INSERT INTO stack_listeners (stack_id, pid) VALUES ('x', 1)"),
          ).rejects.toMatchObject({ code: "42501" });
          // Nor register an id the trigger would never notify.
          const r = await direct.query("SELECT stackseam_listen($1) AS ok", ["../etc; DROP TABLE stacks"]);
          expect(r.rows[0].ok).toBe(false);
          // Nor make the function read its own stand-ins: temporary tables named like what it reads.
          await direct.query("CREATE TEMPORARY TABLE pg_stat_activity (pid integer)");
          await direct.query("CREATE TEMPORARY TABLE stack_listeners (stack_id text, pid integer)");
          const mine = await direct.query("SELECT pg_backend_pid() AS pid");
          expect((await direct.query("SELECT stackseam_listen('ro-3') AS ok")).rows[0].ok).toBe(true);
          expect(await listeners("ro-1")).toHaveLength(1);
          expect(await listeners("ro-3")).toEqual([mine.rows[0].pid]);
        } finally {
          await direct.end();
        }
      } finally {
        await feed.close();
      }
      // A role denied the function (EXECUTE revoked from PUBLIC) polls, and says what to grant.
      await client.query("REVOKE EXECUTE ON FUNCTION stackseam_listen(text) FROM PUBLIC");
      try {
        const notes: string[] = [];
        const denied = await openStackFeed(url.toString(), "ro-2", {
          onNote: (t) => notes.push(t),
          pollMs: 50,
        });
        try {
          expect(denied.mode).toBe("poll");
          expect(notes).toEqual([
            expect.stringMatching(
              /^this role may not register for history notifications \(permission denied for function stackseam_listen\): polling every 0\.05 s; GRANT EXECUTE ON FUNCTION stackseam_listen\(text\), stackseam_unlisten\(text\) to it$/,
            ),
          ]);
          expect(await denied.next(Date.now() + 30_000)).toBe("poll");
        } finally {
          await denied.close();
        }
      } finally {
        await client.query("GRANT EXECUTE ON FUNCTION stackseam_listen(text) TO PUBLIC");
      }
    } finally {
      await client.query(`REVOKE ALL ON stacks, history FROM ${role}`);
      await client.query(`DROP ROLE ${role}`);
    }
  });

  /** Whether inserting a history row for `stackId` ran the trigger's function. */
  const ranTrigger = async (stackId: string) => {
    // The session's count of the function's calls not yet flushed to the shared statistics: its
    // change across the insert, in one transaction, is what the insert ran.
    const calls = async () =>
      Number(
        (
          await client.query<{ n: string | null }>(
            "SELECT pg_stat_get_xact_function_calls('stackseam_history_notify'::regproc) AS n",
          )
        ).rows[0]?.n ?? 0,
      );
    await client.query("BEGIN");
    try {
      await client.query("SET LOCAL track_functions = 'pl'");
      const before = await calls();
      await historyRow(stackId);
      return (await calls()) > before;
    } finally {
      await client.query("COMMIT");
    }
  };
  /** The wait events of feeds' sessions waiting for a lock. */
  const feedLockWaits = async () =>
    (
      await client.query<{ wait_event: string }>(
        "SELECT wait_event FROM pg_stat_activity WHERE application_name = 'stackseam-wait' AND wait_event_type = 'Lock'",
      )
    ).rows.map((r) => r.wait_event);

  it("runs the trigger's function only for stacks whose gate a feed holds (migration 010)", async () => {
    expect(await ranTrigger("gate-1")).toBe(false);
    const feed = await openStackFeed(db.url, "gate-1");
    try {
      expect(await ranTrigger("gate-1")).toBe(true);
      expect(await ranTrigger("gate-2")).toBe(false);
    } finally {
      await feed.close();
    }
    expect(await ranTrigger("gate-1")).toBe(false);
    // Closing released the gate: no session holds an advisory lock any more.
    const held = await client.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'");
    expect(held.rows[0].n).toBe(0);
  });

  it("a writer that passed the gate keeps a registration waiting until it commits; too long, and the feed polls", async () => {
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query("BEGIN");
      await historyRow("gate-3", writer); // takes the gate: its function does not run
      let opened = false;
      const opening = openStackFeed(db.url, "gate-3").then((f) => {
        opened = true;
        return f;
      });
      await vi.waitFor(async () => expect(await feedLockWaits()).toEqual(["advisory"]), { timeout: 5_000 });
      expect(opened).toBe(false);
      await writer.query("COMMIT");
      const feed = await opening;
      try {
        expect(feed.mode).toBe("listen");
        const waking = feed.next(Date.now() + 30_000);
        await historyRow("gate-3");
        expect(await waking).toBe("changed");
      } finally {
        await feed.close();
      }

      // Past the function's lock_timeout (10 s; shortened here), the feed polls and says why.
      await client.query("ALTER FUNCTION stackseam_listen(text) SET lock_timeout = '200ms'");
      await writer.query("BEGIN");
      await historyRow("gate-4", writer);
      const notes: string[] = [];
      const polling = await openStackFeed(db.url, "gate-4", { onNote: (t) => notes.push(t), pollMs: 50 });
      try {
        expect(polling.mode).toBe("poll");
        expect(notes).toEqual([
          "a transaction writing this stack's history held its notification gate too long (canceling statement due to lock timeout): polling every 0.05 s",
        ]);
        // The failed registration left no row behind.
        expect(await listeners("gate-4")).toEqual([]);
      } finally {
        await polling.close();
      }
    } finally {
      await writer.query("ROLLBACK").catch(() => {});
      await writer.end();
      await client.query("ALTER FUNCTION stackseam_listen(text) SET lock_timeout = '10s'");
    }
  });

  it("on a database before 009 the trigger notifies every stack and the feed does not register", async () => {
    const old = await createTestDatabase();
    const admin = new pg.Client({ connectionString: old.url });
    await admin.connect();
    try {
      // 003's trigger and its function as they were, and 009's functions gone.
      const m003 = await readFile(join(defaultMigrationsDir(), "003_history_notify.sql"), "utf8");
      const fn = m003.slice(m003.indexOf("CREATE FUNCTION"), m003.indexOf("CREATE TRIGGER"));
      await admin.query(fn.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"));
      await admin.query("DROP TRIGGER history_notify ON history");
      await admin.query(m003.slice(m003.indexOf("CREATE TRIGGER")));
      await admin.query("DROP FUNCTION stackseam_listen(text); DROP FUNCTION stackseam_unlisten(text)");
      await admin.query("DROP TABLE stack_listeners");
      const feed = await openStackFeed(old.url, "old-1");
      try {
        expect(feed.mode).toBe("listen");
        expect(feed.queries()).toBe(2);
        const waking = feed.next(Date.now() + 30_000);
        await admin.query(
          "INSERT INTO history (stack_id, machine, event, event_key, outcome) VALUES ('old-1', 'm', 'TOUCH', 'k', 'applied')",
        );
        expect(await waking).toBe("changed");
      } finally {
        await feed.close();
      }
    } finally {
      await admin.end();
      await old.drop();
    }
  });
});
