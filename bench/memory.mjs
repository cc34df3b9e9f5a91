// §5 Memory: one State Manager container (the release's index.mjs in a fresh process, default
// configuration: pool of 3, specs from S3) handling 10,000 events; peak RSS from resourceUsage().
import { fork } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { stateManagerEnv } from "./cold-start.mjs";
import { createDatabase, ROOT } from "./lib/infra.mjs";
import { completions, dispatchedTasks, launches, sqsRecord, stackIds, touches } from "./lib/workload.mjs";

const BATCH = 10;

/**
 * Lambda's Node.js bootstrap sizes V8's heap from the function's memory (new space about 5 % of
 * it, the rest old space); these flags approximate what a 128 MB function gets. Without them V8
 * sizes the young generation from the host's RAM, which on a large machine inflates RSS.
 */
export const LAMBDA_128_FLAGS = ["--max-semi-space-size=2", "--max-old-space-size=122"];

/** Both runs: V8 heap sized as in a 128 MB Lambda, and node's defaults on this host. */
export async function runMemory(ctx) {
  const lambda128 = await runMemoryOnce({ ...ctx, execArgv: LAMBDA_128_FLAGS });
  const defaults = await runMemoryOnce({ ...ctx, execArgv: [] });
  return { lambda128: { ...lambda128, flags: LAMBDA_128_FLAGS.join(" ") }, defaults };
}

async function runMemoryOnce({ adminUrl, aws, quick, log, release, execArgv }) {
  const stacks = quick ? 250 : 2500; // × 4 events each
  const db = await createDatabase(adminUrl);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const taskQueueUrl = aws.newQueue("memory");
  const proc = fork(
    join(ROOT, "bench/children/memory-child.mjs"),
    [release.functions["state-manager"].index],
    {
      env: stateManagerEnv(aws, db.url, taskQueueUrl),
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      execArgv,
    },
  );
  let stderr = "";
  proc.stderr.on("data", (d) => {
    stderr += d;
  });
  const inbox = [];
  const waiters = [];
  proc.on("message", (m) => (waiters.length > 0 ? waiters.shift()(m) : inbox.push(m)));
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  const next = () =>
    inbox.length > 0
      ? Promise.resolve(inbox.shift())
      : Promise.race([
          new Promise((resolve) => waiters.push(resolve)),
          exited.then((code) => {
            throw new Error(`memory child exited (${code}): ${stderr.slice(-2000)}`);
          }),
        ]);
  const feed = async (records) => {
    for (let i = 0; i < records.length; i += BATCH) {
      proc.send({ type: "batch", records: records.slice(i, i + BATCH) });
      await next();
    }
  };
  try {
    await next(); // ready
    log(
      `memory: ${stacks * 4} events through one State Manager process (${execArgv.join(" ") || "default V8 flags"})`,
    );
    const ids = stackIds("mem", stacks);
    const t0 = performance.now();
    await feed(launches(ids));
    await feed(completions(await dispatchedTasks(client, "mem")));
    await feed(touches(ids));
    await feed(ids.map((stackId) => sqsRecord({ stackId, event: "DESTROY" })));
    const ms = performance.now() - t0;
    proc.send({ type: "finish" });
    const result = await next();
    if (result.failures > 0) throw new Error(`memory: ${result.failures} batch item failures`);
    const teardown = await client.query("SELECT count(*)::int AS n FROM stacks WHERE state = 'TEARDOWN'");
    if (teardown.rows[0].n !== stacks)
      throw new Error(`memory: ${teardown.rows[0].n} of ${stacks} stacks in TEARDOWN`);
    await exited;
    return { ...result, ms, eventsPerSec: (result.events / ms) * 1000 };
  } finally {
    if (proc.exitCode === null) proc.kill();
    await client.end();
    await db.drop();
  }
}
