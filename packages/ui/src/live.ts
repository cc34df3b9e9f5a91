// Live updates: one poll of the history's newest id for all open pages, pushed to them as
// server-sent events naming the stacks that changed.
import type { ServerResponse } from "node:http";
import { changedStacks, type Database, latestHistoryId } from "@stackseam/state-manager";
import type { Kysely } from "kysely";

/** What a page is told when something changed. */
export interface Change {
  cursor: number;
  /** The stacks with new history rows; `all` when too many changed to list. */
  stacks: string[];
  all: boolean;
}

export interface ChangeFeedOptions {
  /** How often the history is polled while a page listens (default 250 ms). */
  intervalMs?: number;
  /** Comment lines that keep idle connections (and proxies) open (default 15 s). */
  heartbeatMs?: number;
  onError?: (err: unknown) => void;
}

function hello(cursor: number): string {
  return `event: hello\ndata: ${JSON.stringify({ cursor })}\n\n`;
}

/** Polls the database only while at least one page listens; every listener shares the poll. */
export class ChangeFeed {
  private readonly clients = new Set<ServerResponse>();
  private cursor: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private polling = false;
  /** Database round trips made by the feed (for measurements). */
  polls = 0;

  private readonly db: Kysely<Database>;
  private readonly opts: ChangeFeedOptions;

  constructor(db: Kysely<Database>, opts: ChangeFeedOptions = {}) {
    this.db = db;
    this.opts = opts;
  }

  /** Takes over a response as an event stream until the client goes away. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    res.write("retry: 1000\n\n");
    // The page compares this with the cursor it was rendered at, so a change between its render
    // and this connection is not missed.
    if (this.cursor !== null) res.write(hello(this.cursor));
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    this.start();
  }

  get listeners(): number {
    return this.clients.size;
  }

  private start(): void {
    if (this.timer) return;
    const interval = this.opts.intervalMs ?? 250;
    this.timer = setInterval(() => void this.poll(), interval);
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.write(": keep-alive\n\n");
    }, this.opts.heartbeatMs ?? 15_000);
    void this.poll();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = null;
    this.heartbeat = null;
    // The next listener starts from its own page load, so an old cursor would only replay noise.
    this.cursor = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      this.polls++;
      const latest = await latestHistoryId(this.db);
      if (this.cursor === null) {
        this.cursor = latest;
        for (const c of this.clients) c.write(hello(latest));
        return;
      }
      if (latest === this.cursor) return;
      const changed = await changedStacks(this.db, this.cursor, 100);
      this.polls++;
      this.cursor = latest;
      this.broadcast({ cursor: latest, stacks: changed.stacks, all: changed.more });
    } catch (err) {
      this.opts.onError?.(err);
    } finally {
      this.polling = false;
    }
  }

  private broadcast(change: Change): void {
    const frame = `event: change\ndata: ${JSON.stringify(change)}\n\n`;
    for (const c of this.clients) c.write(frame);
  }

  /** Ends every stream (the server is closing). */
  close(): void {
    this.stop();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}
