// The change feed `wait`, `stacks history --follow` and `stacks show --watch` sleep on
// (migrations/003_history_notify.sql): a row for another stack whose id shares the channel does not
// wake it, a row for its own does, a wake-up that came while nobody waited is kept, an aborted wait
// ends, a dropped connection is reconnected (and a registration refused then makes it poll), and
// without the trigger it polls and says so.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { channelOf, DEFAULT_POLL_MS, openStackFeed } from "../src/watch/feed.js";

// Two ids with the same first 50 characters: one channel, told apart by the payload.
const PREFIX = "p".repeat(50);
const MINE = `${PREFIX}-mine`;
const OTHER = `${PREFIX}-other`;

describe("the stack change feed", { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  let key = 0;
  const historyRow = (stackId: string) =>
    client.query(
      "INSERT INTO history (stack_id, machine, event, event_key, outcome) VALUES ($1, 'm', 'TOUCH', $2, 'applied')",
      [stackId, `k-${++key}`],
    );

  it("wakes for its own stack only, and keeps a wake-up that came between waits", async () => {
    expect(channelOf(MINE)).toBe(channelOf(OTHER));
    const feed = await openStackFeed(db.url, MINE);
    try {
      expect(feed.mode).toBe("listen");
      // Another stack on the same channel: the feed sleeps on to its deadline.
      const sleeping = feed.next(Date.now() + 1500);
      await historyRow(OTHER);
      expect(await sleeping).toBe("deadline");

      const waking = feed.next(Date.now() + 30_000);
      await historyRow(MINE);
      expect(await waking).toBe("changed");

      // A row while nobody is waiting: the next wait returns at once. A second listener on the
      // channel tells when the server has sent the notification (to every listener at commit).
      const listener = new pg.Client({ connectionString: db.url });
      await listener.connect();
      try {
        await listener.query(`LISTEN ${listener.escapeIdentifier(channelOf(MINE))}`);
        const heard = new Promise<void>((resolve) => listener.once("notification", () => resolve()));
        await historyRow(MINE);
        await heard;
      } finally {
        await listener.end();
      }
      const pending = await feed.next(Date.now() + 30_000);
      expect(pending).toBe("changed");
    } finally {
      await feed.close();
    }
  });

  it("an aborted wait ends at once, before or while it sleeps", async () => {
    const before = new AbortController();
    before.abort();
    const feed = await openStackFeed(db.url, MINE, { signal: before.signal });
    try {
      expect(await feed.next(Date.now() + 30_000)).toBe("aborted");
    } finally {
      await feed.close();
    }
    const during = new AbortController();
    const other = await openStackFeed(db.url, MINE, { signal: during.signal });
    try {
      const sleeping = other.next(Date.now() + 30_000);
      during.abort();
      expect(await sleeping).toBe("aborted");
    } finally {
      await other.close();
    }
  });

  it("reconnects after the server drops its connection, and reports a change to re-read", async () => {
    const feed = await openStackFeed(db.url, MINE);
    try {
      const sleeping = feed.next(Date.now() + 30_000);
      const killed = await client.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stackseam-wait' AND datname = current_database()",
      );
      expect(killed.rowCount).toBeGreaterThan(0);
      expect(await sleeping).toBe("changed");
      // Listening again on the new connection: a row for the stack wakes it.
      const again = feed.next(Date.now() + 30_000);
      await historyRow(MINE);
      expect(await again).toBe("changed");
    } finally {
      await feed.close();
    }
  });

  it("polls from a reconnection on when its registration is refused then, and says why", async () => {
    const id = "refused-on-reconnect";
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    // The function's lock wait (10 s), shortened here.
    await client.query("ALTER FUNCTION stackseam_listen(text) SET lock_timeout = '200ms'");
    const notes: string[] = [];
    const feed = await openStackFeed(db.url, id, { onNote: (t) => notes.push(t), pollMs: 50 });
    try {
      expect(feed.mode).toBe("listen");
      expect(notes).toEqual([]);
      const sleeping = feed.next(Date.now() + 30_000);
      await client.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stackseam-wait' AND datname = current_database()",
      );
      // With the feed's session gone nobody holds the stack's gate, so a writer takes it (migration
      // 010) and keeps it: the feed's registration on its new connection times out.
      await writer.query("BEGIN");
      await writer.query(
        "INSERT INTO history (stack_id, machine, event, event_key, outcome) VALUES ($1, 'm', 'TOUCH', 'held', 'applied')",
        [id],
      );
      expect(await sleeping).toBe("changed");
      expect(notes).toEqual([
        "a transaction writing this stack's history held its notification gate too long (canceling statement due to lock timeout): polling every 0.05 s",
      ]);
      // Polling now: a wake-up within the poll interval, not the minute-long safety poll.
      const asked = Date.now();
      expect(await feed.next(asked + 30_000)).toBe("poll");
      expect(Date.now() - asked).toBeLessThan(5_000);
    } finally {
      await feed.close();
      await writer.query("ROLLBACK").catch(() => {});
      await writer.end();
      await client.query("ALTER FUNCTION stackseam_listen(text) SET lock_timeout = '10s'");
    }
  });

  it("without the notify trigger it polls, and says so once with the default interval", async () => {
    const bare = await createTestDatabase();
    const admin = new pg.Client({ connectionString: bare.url });
    await admin.connect();
    try {
      await admin.query("DROP TRIGGER history_notify ON history");
      const notes: string[] = [];
      const feed = await openStackFeed(bare.url, MINE, { onNote: (t) => notes.push(t) });
      try {
        expect(feed.mode).toBe("poll");
        expect(notes).toEqual([
          `the database has no history notifications (migration 003_history_notify.sql): polling every ${DEFAULT_POLL_MS / 1000} s; run \`stackseam migrate\``,
        ]);
        expect(await feed.next(Date.now() + 30_000)).toBe("poll");
      } finally {
        await feed.close();
      }
    } finally {
      await admin.end();
      await bare.drop();
    }
  });
});
