import { readFileSync } from "node:fs";
import { commandLine, isAlive } from "./processes.js";

/** How often the launcher is looked at; stopping within a second of it is soon enough. */
const POLL_MS = 500;
/** `npm exec` puts a shell between npm and us; `npm run` with `exec` does not. */
const MAX_DEPTH = 3;

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number.parseInt(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? "", 10);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : null;
  } catch {
    return null;
  }
}

/** The processes between us and the npm that started us (inclusive), or just our parent. */
function launchers(): { pids: number[]; npm: boolean } {
  const pids: number[] = [process.ppid];
  for (let pid = process.ppid; pids.length <= MAX_DEPTH; ) {
    const cmd = commandLine(pid);
    if (cmd === null) break;
    if (/(^|[\s/])(npm|npm-cli\.js|npx|npx-cli\.js)(\s|$)/.test(cmd)) return { pids, npm: true };
    const next = parentOf(pid);
    if (next === null || next === 1) break;
    pids.push(next);
    pid = next;
  }
  return { pids: [process.ppid], npm: false };
}

/** What `watchLauncher` found to watch, for the log. */
export interface LauncherWatch {
  /** Pid of the launcher whose exit stops dev. */
  pid: number;
  stop(): void;
}

/**
 * Started by npm (`npm run dev`, `npx stackseam dev`), dev lives as long as that npm: npm forwards
 * SIGINT/SIGTERM to its child only, and when that child is a shell (`npm exec`) or npm is killed
 * outright, the signal never reaches dev, which would keep running with its PostgreSQL. So the
 * processes between dev and npm are watched, and `gone` is called once one of them has exited.
 * Not started by npm, dev stays up until it is signalled itself (a `nohup stackseam dev &` keeps
 * running after its shell exits). Returns null when there is nothing to watch.
 */
export function watchLauncher(gone: (pid: number) => void): LauncherWatch | null {
  if (process.env.npm_lifecycle_event === undefined) return null;
  const { pids } = launchers();
  const first = process.ppid;
  const timer = setInterval(() => {
    const exited = process.ppid !== first ? first : pids.find((pid) => !isAlive(pid));
    if (exited === undefined) return;
    clearInterval(timer);
    gone(exited);
  }, POLL_MS);
  timer.unref();
  return { pid: pids.at(-1) ?? first, stop: () => clearInterval(timer) };
}
