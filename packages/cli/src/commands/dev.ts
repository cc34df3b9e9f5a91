import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { styleText } from "node:util";
import { devDataDir } from "../connection.js";
import { type DevDashboard, startDevDashboard } from "../dev/dashboard.js";
import { DevError } from "../dev/errors.js";
import { LiveLog } from "../dev/live-log.js";
import { watchLauncher } from "../dev/parent-watch.js";
import { type DevRuntime, startDev } from "../dev/runtime.js";
import { parseCommandArgs } from "../registry.js";

const help = `Usage: stackseam dev [--specs DIR] [--functions DIR] [--port N] [--data-dir DIR]

Runs the whole engine on this machine: PostgreSQL, SQS + S3 (fauxqs), the State Manager and the
Task Satisfier (their real Lambda handlers, fed from the queues), the tick every second (timeouts,
retries, TTLs, schedules), with hot-reloaded specs and a live log. Stop with Ctrl-C, or
SIGINT/SIGTERM to dev or to the npm that started it.

Options:
  --specs DIR       machine specs folder (default examples/specs)
  --functions DIR   local Lambda handler modules for lambda tasks (default examples/functions)
  --port N          port of the embedded SQS/S3 endpoint (default 4566, or a free one when 4566 is
                    taken; 0 = any free port; a port given here must be free)
  --data-dir DIR    where dev keeps its state (default STACKSEAM_DATA_DIR, else .stackseam)
  -h, --help        show this help

Environment:
  DATABASE_URL                         use this PostgreSQL instead of the embedded one
  AWS_ENDPOINT_URL(_SQS, _S3)          use this SQS/S3 endpoint instead of the embedded one
  TERRAFORM_BIN                        terraform (default) or tofu, for terraform tasks
  TERRAFORM_DEADLINE_MARGIN_MS         time kept back before a task's deadline (default 30000): a
                                       task with a shorter timeout is not started
  HEARTBEAT_INTERVAL_SECONDS           how often running tasks send TASK_HEARTBEAT (default 30)
`;

interface DevValues {
  specs?: string;
  functions?: string;
  port?: string;
  "data-dir"?: string;
  help?: boolean;
}

function parseOptions(args: string[]) {
  const parsed = parseCommandArgs<DevValues>("dev", args);
  if (parsed.positionals.length > 0) throw new Error(`unexpected argument "${parsed.positionals[0]}"`);
  return parsed;
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}

/** How to run the CLI from here: the installed bin when npm linked it, else the root script. */
function cliCommand(dataDir: string): string {
  const bin = existsSync(join(process.cwd(), "node_modules", ".bin", "stackseam"))
    ? "npx stackseam"
    : "npm run -s stackseam --";
  const defaultDir = resolve(".stackseam");
  const needsDir = dataDir !== defaultDir && process.env.STACKSEAM_DATA_DIR === undefined;
  return needsDir ? `STACKSEAM_DATA_DIR=${shown(dataDir)} ${bin}` : bin;
}

async function machineNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => f.replace(/\.ya?ml$/, ""))
      .sort();
  } catch {
    return [];
  }
}

async function banner(
  rt: DevRuntime,
  dataDir: string,
  functionsDir: string,
  cli: string,
  ms: number,
  dashboard: DevDashboard | null,
): Promise<string> {
  const b = (t: string) => styleText("bold", t, { stream: process.stdout });
  const d = (t: string) => styleText("dim", t, { stream: process.stdout });
  const i = rt.instance;
  const machines = await machineNames(i.specsDir);
  const machine = machines.includes("qa-env") ? "qa-env" : (machines[0] ?? "<machine>");
  const db =
    rt.database === "embedded"
      ? `embedded PostgreSQL on 127.0.0.1:${new URL(i.databaseUrl).port} ${d(`(data in ${shown(join(dataDir, "pg"))}${rt.initialisedDatabase ? ", created now" : ""})`)}`
      : `DATABASE_URL ${d(`(${new URL(i.databaseUrl).host})`)}`;
  const endpoint = rt.aws.embedded
    ? `${i.endpoint} ${d(`(embedded fauxqs, data in ${shown(join(dataDir, "fauxqs"))})`)}`
    : `${i.endpoint} ${d("(from AWS_ENDPOINT_URL)")}`;
  const terraform = rt.terraformBin
    ? rt.terraformBin
    : `${d("not found:")} terraform tasks will fail until terraform/tofu is on PATH or TERRAFORM_BIN is set`;
  const envLine = Object.entries(rt.aws.env)
    .filter(([k]) => k.startsWith("AWS_"))
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return [
    "",
    `${b("stackseam dev")} is up ${d(`(${(ms / 1000).toFixed(1)} s)`)}`,
    `  specs       ${shown(i.specsDir)} ${d(`(${machines.join(", ") || "no specs yet"}; edits reload live)`)}`,
    `  functions   ${shown(functionsDir)}`,
    `  database    ${db}`,
    `  SQS + S3    ${endpoint}`,
    `  queues      events ${i.eventQueueUrl}`,
    `              tasks  ${i.taskQueueUrl}`,
    `              DLQs   ${rt.aws.eventDlqUrl}, ${rt.aws.taskDlqUrl}`,
    `  bucket      ${i.bucket}`,
    `  terraform   ${terraform}`,
    `  Lambda logs ${shown(rt.logFile)} ${d("(JSON, as CloudWatch would get them)")}`,
    ...(dashboard ? [`  dashboard   ${b(dashboard.url)} ${d("(stacks, machines and history, live)")}`] : []),
    "",
    b("Try it (in another terminal):"),
    `  ${cli} send feature-1 LAUNCH --machine ${machine} --meta apiImageTag=abc`,
    `  ${cli} stacks show feature-1`,
    `  ${cli} send feature-1 FREEZE`,
    `  ${cli} send feature-1 DESTROY`,
    `  ${cli} stacks history feature-1`,
    "",
    b("Point the AWS CLI / SDK at it:"),
    `  export ${envLine}`,
    `  aws sqs receive-message --queue-url ${rt.aws.taskDlqUrl}`,
    `  ${d(`(the database URL, with its password, is in ${shown(join(dataDir, "dev.json"))})`)}`,
    "",
  ].join("\n");
}

/** `stackseam dev`: runs until SIGINT/SIGTERM, then stops everything it started and exits 0. */
export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    process.stderr.write(`stackseam dev: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(help);
    return 0;
  }
  const port = v.port === undefined ? 4566 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(
      `stackseam dev: --port must be a port number (0 for any free port), not "${v.port}"\n`,
    );
    return 2;
  }
  const dataDir = devDataDir(v["data-dir"]);
  const functionsDir = resolve(v.functions ?? "examples/functions");
  const live = new LiveLog();
  // Decided before dev sets STACKSEAM_DATA_DIR for the functions.
  const cli = cliCommand(dataDir);
  const started = performance.now();

  // Signals are taken from the start: Ctrl-C during startup must still stop what was started.
  let signals = 0;
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) live.info(`${signal}: stopping…`);
    wake();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const launcher = watchLauncher((pid) => {
    signals++;
    if (signals === 1)
      live.info(`the process that started dev (pid ${pid}, npm or its shell) exited: stopping…`);
    wake();
  });

  live.info(`starting (data dir ${shown(dataDir)})…`);
  let rt: DevRuntime;
  try {
    rt = await startDev(
      { specsDir: v.specs ?? "examples/specs", functionsDir, dataDir, port, portGiven: v.port !== undefined },
      live,
    );
  } catch (err) {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    launcher?.stop();
    const cause =
      err instanceof DevError && err.cause instanceof Error ? `\n  cause: ${err.cause.message}` : "";
    process.stderr.write(
      `stackseam dev: ${(err as Error).message}${process.env.STACKSEAM_DEBUG ? cause : ""}\n`,
    );
    // Startup cleans up after itself; should a library still hold a handle, do not hang on it.
    setTimeout(() => process.exit(1), 2_000).unref();
    return 1;
  }

  let dashboard: DevDashboard | null = null;
  if (signals === 0) {
    dashboard = await startDevDashboard(rt.instance, live);
    process.stdout.write(
      await banner(rt, dataDir, functionsDir, cli, performance.now() - started, dashboard),
    );
    live.info(styleText("green", "ready", { stream: process.stdout }));
  }

  await stopRequested;
  await dashboard?.close();
  launcher?.stop();
  const forced = new Promise<"forced">((resolve) => {
    const again = () => resolve("forced");
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    process.once("SIGINT", again);
    process.once("SIGTERM", again);
  });
  if (rt.inFlight() > 0) {
    live.info(
      `waiting for ${rt.inFlight()} batch(es) in flight; Ctrl-C again to stop now (they will be retried)`,
    );
  }
  const outcome = await Promise.race([rt.stop().then(() => "stopped" as const), forced]);
  if (outcome === "forced") {
    live.warn("stopping now: in-flight messages go back to their queues");
    await rt.forceStop();
    live.info("stopped");
    // Abandoned handlers (a sleeping task, a Terraform child) would otherwise keep the process up.
    process.exit(130);
  }
  live.info("stopped");
  return 0;
}
