import type { Database } from "@stackseam/state-manager";
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from "kysely";
import pg from "pg";

/** How a feed learns that its stack changed. */
export type FeedMode = "listen" | "poll";

/** Why `next` returned. */
export type Wake = "changed" | "poll" | "deadline" | "aborted";

/**
 * One stack's change feed: a single database connection that sleeps on LISTEN until the stack's
 * history gets a row (migration 003 notifies on every insert), and runs the reads in between.
 */
export interface StackFeed {
  /** Reads over the feed's own connection (one connection per waiting CLI, nothing more). */
  readonly db: Kysely<Database>;
  readonly mode: FeedMode;
  /** Statements sent so far (LISTEN and the trigger check included), for `--json` and tests. */
  queries(): number;
  /** Resolves when the stack may have changed, at the next poll, at `deadline` or on abort. */
  next(deadline: number): Promise<Wake>;
  close(): Promise<void>;
}

export interface FeedOptions {
  /** With LISTEN: re-read this often anyway, in case a proxy in between drops notifications. */
  safetyPollMs?: number;
  /** Without the notify trigger (migration 003 not applied): poll this often. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called once when the database has no notify trigger, to say the feed polls instead. */
  onNote?(text: string): void;
}

export const DEFAULT_SAFETY_POLL_MS = 60_000;
export const DEFAULT_POLL_MS = 1_000;
/** How long opening a feed waits for transactions that may not have seen its registration. */
const DRAIN_MS = 2_000;
/** While some of those are still open: re-read this often, so none of their commits is missed. */
const PENDING_POLL_MS = 1_000;
/** Reconnection attempts after the connection drops, 1 s apart and doubling. */
const RECONNECTS = 5;

/** The channel migration 003 notifies for a stack: "stackseam." and the id's first 50 characters. */
export function channelOf(stackId: string): string {
  return `stackseam.${stackId.slice(0, 50)}`;
}

/** Opens a feed for one stack: connects, LISTENs on its channel, checks the trigger exists. */
export async function openStackFeed(
  databaseUrl: string,
  stackId: string,
  opts: FeedOptions = {},
): Promise<StackFeed> {
  let statements = 0;
  let dirty = false;
  let wake: ((why: Wake) => void) | null = null;
  let lost: Error | null = null;
  let closed = false;

  const onNotification = (n: pg.Notification) => {
    // Ids sharing the channel's 50-character prefix share the channel; the payload tells them apart.
    if (n.payload !== stackId) return;
    dirty = true;
    wake?.("changed");
  };
  const onLost = (err: Error) => {
    lost ??= err;
    wake?.("changed");
  };

  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      connectionString: databaseUrl,
      application_name: "stackseam-wait",
      connectionTimeoutMillis: 10_000,
      // An hour-long wait is mostly silence: keep NATs and load balancers from dropping it unseen.
      keepAlive: true,
    });
    client.on("notification", onNotification);
    client.on("error", onLost);
    client.on("end", () => onLost(new Error("the database connection closed")));
    await client.connect();
    return client;
  };

  let client = await connect();
  // In-progress transactions that may have checked for listeners before this feed registered.
  let pending: string[] = [];
  let registered = false;
  // Why registration was refused (set inside listen, so TypeScript cannot follow it: see `why` below).
  let refused: { code: string; message: string } | null = null;
  const listen = async (c: pg.Client) => {
    statements += 2;
    await c.query(`LISTEN ${c.escapeIdentifier(channelOf(stackId))}`);
    const res = await c.query<{ present: boolean; gated: boolean }>(
      "SELECT EXISTS (SELECT FROM pg_trigger WHERE tgname = 'history_notify' AND tgrelid = 'history'::regclass) AS present, to_regprocedure('stackseam_listen(text)') IS NOT NULL AS gated",
    );
    const present = res.rows[0]?.present === true;
    // Migration 009: the trigger notifies registered stacks only (before it, every stack); since
    // 010 registering also holds the stack's gate, waiting for a writer that passed it to commit.
    if (present && res.rows[0]?.gated === true) {
      statements += 2;
      try {
        await c.query("SELECT stackseam_listen($1)", [stackId]);
      } catch (err) {
        // A role denied the function (EXECUTE revoked), or a transaction that kept the stack's
        // gate past the function's lock_timeout (migration 010): no notification would come, so poll.
        const code = (err as { code?: string }).code;
        if (code !== "42501" && code !== "55P03") throw err;
        refused = { code, message: (err as Error).message };
        return false;
      }
      // Taken after the registration committed: a transaction not in progress now either
      // committed before (the next read sees it) or checks for listeners after (and notifies).
      const open = await c.query<{ xids: string[] }>(
        "SELECT array(SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) x WHERE pg_xact_status(x) = 'in progress') AS xids",
      );
      pending = open.rows[0]?.xids ?? [];
      registered = true;
      if (pending.length > 0) await drain(c, DRAIN_MS);
    }
    return present;
  };
  /** Re-checks the pending transactions for up to `ms` (at least once); later polls re-check the rest. */
  const drain = async (c: pg.Client, ms: number) => {
    const until = Date.now() + ms;
    for (let pause = 2; pending.length > 0; pause = Math.min(pause * 2, 200)) {
      statements += 1;
      const res = await c.query<{ xids: string[] }>(
        "SELECT array(SELECT x FROM unnest($1::xid8[]) x WHERE pg_xact_status(x) = 'in progress')::text[] AS xids",
        [pending],
      );
      pending = res.rows[0]?.xids ?? [];
      // The last pause is cut to what is left, so a transaction open throughout is waited for all of `ms`.
      const left = until - Date.now();
      if (pending.length === 0 || left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(pause, left)));
    }
  };
  let notified: boolean;
  try {
    notified = await listen(client);
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  const mode: FeedMode = notified ? "listen" : "poll";
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  /** Says why the feed polls: no trigger, or its registration refused (see `refused`). */
  const notePolling = () => {
    const why = refused as { code: string; message: string } | null;
    opts.onNote?.(
      why === null
        ? `the database has no history notifications (migration 003_history_notify.sql): polling every ${pollMs / 1000} s; run \`stackseam migrate\``
        : why.code === "55P03"
          ? `a transaction writing this stack's history held its notification gate too long (${why.message}): polling every ${pollMs / 1000} s`
          : `this role may not register for history notifications (${why.message}): polling every ${pollMs / 1000} s; GRANT EXECUTE ON FUNCTION stackseam_listen(text), stackseam_unlisten(text) to it`,
    );
  };
  if (!notified) notePolling();
  // Changes to the poll interval when a registration after a reconnection is refused.
  let interval = notified ? (opts.safetyPollMs ?? DEFAULT_SAFETY_POLL_MS) : pollMs;

  // Kysely runs its queries on the feed's one client, whichever it is after a reconnection.
  const poolClient = {
    query: (sql: string, params: readonly unknown[]) => {
      statements += 1;
      return client.query(sql, params as unknown[]);
    },
    release() {},
  } as unknown as PostgresPoolClient;
  const pool: PostgresPool = { connect: async () => poolClient, end: async () => {} };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

  /** After a lost connection: reconnect and listen again; the caller re-reads (it may have missed rows). */
  const recover = async () => {
    const cause = lost;
    for (let attempt = 0; attempt < RECONNECTS && !closed; attempt++) {
      await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
      try {
        const fresh = await connect();
        const heard = await listen(fresh);
        client.removeAllListeners();
        client.on("error", () => {});
        client.end().catch(() => {});
        client = fresh;
        lost = null;
        // Registration refused this time (its role lost the grant, or a writer kept the gate):
        // no notification will come, so from now on the feed polls.
        if (!heard && interval !== pollMs) {
          interval = pollMs;
          nextPoll = Math.min(nextPoll, Date.now() + interval);
          notePolling();
        }
        return;
      } catch {
        // the next attempt, a little later
      }
    }
    throw new Error(`lost the database connection and could not reconnect`, { cause });
  };

  let nextPoll = Date.now() + interval;
  return {
    db,
    mode,
    queries: () => statements,
    async next(deadline: number): Promise<Wake> {
      if (lost) {
        await recover();
        return "changed";
      }
      if (dirty) {
        dirty = false;
        return "changed";
      }
      if (opts.signal?.aborted) return "aborted";
      if (pending.length > 0) nextPoll = Math.min(nextPoll, Date.now() + PENDING_POLL_MS);
      const until = Math.min(deadline, nextPoll);
      const why = await new Promise<Wake>((resolve) => {
        const done = (w: Wake) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener("abort", onAbort);
          wake = null;
          resolve(w);
        };
        const onAbort = () => done("aborted");
        const timer = setTimeout(
          () => done(until === nextPoll ? "poll" : "deadline"),
          Math.max(0, until - Date.now()),
        );
        opts.signal?.addEventListener("abort", onAbort, { once: true });
        wake = done;
      });
      if (why === "poll") {
        nextPoll = Date.now() + interval;
        // A poll re-reads anyway; until the old transactions have ended, keep polling soon.
        if (pending.length > 0) await drain(client, 0).catch(() => {});
      }
      if (why === "changed") {
        dirty = false;
        if (lost) await recover();
      }
      return why;
    },
    async close() {
      closed = true;
      client.removeAllListeners("end");
      // Otherwise the row stays (and its stack keeps notifying) until the next registration.
      if (registered && !lost) {
        statements += 1;
        await client.query("SELECT stackseam_unlisten($1)", [stackId]).catch(() => {});
      }
      await db.destroy();
      await client.end().catch(() => {});
    },
  };
}
