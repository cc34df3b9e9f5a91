// §4 Cold start: builds the release zips (into a temp dir, not release/), then for each one
// starts fresh `node` processes that import index.mjs and handle a first event; plus one
// profiled run whose samples are mapped back to packages through the bundle's source map.
import { execFile, fork } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
// Node 24 strips the types of this erasable-syntax file itself: one zip reader for tests and bench.
import { readZip } from "../test/release/zip-reader.ts";
import { CREDENTIALS, createDatabase, REGION, ROOT } from "./lib/infra.mjs";
import { bundleLocator, summariseProfile } from "./lib/profile.mjs";
import { median, quantile } from "./lib/stats.mjs";
import { launches, sqsRecord } from "./lib/workload.mjs";

const run = promisify(execFile);
const VERSION = "bench";

/** Extracts a zip into `dir` with the release tests' reader (CRC-checked); returns the entry names. */
export async function unzip(file, dir) {
  const names = [];
  for (const entry of readZip(await readFile(file))) {
    const target = join(dir, entry.name);
    if (!target.startsWith(`${dir}/`)) throw new Error(`zip entry escapes: ${entry.name}`);
    if (!entry.name.endsWith("/")) {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, entry.data);
    }
    names.push(entry.name);
  }
  return names;
}

/** A stand-in for the Lambda Invoke API (no real component exists locally): every function succeeds. */
async function startLambdaStub() {
  let invocations = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      invocations++;
      res.writeHead(200, { "content-type": "application/json", "x-amz-executed-version": "$LATEST" });
      res.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    invocations: () => invocations,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

function child(indexFile, events, env, profile) {
  return new Promise((resolve, reject) => {
    const proc = fork(join(ROOT, "bench/children/cold-child.mjs"), [indexFile, JSON.stringify(events)], {
      env: { ...env, ...(profile ? { BENCH_PROFILE: "1" } : {}) },
      // The functions log JSON lines to stdout as in Lambda; dropped here.
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      execArgv: [],
    });
    let stderr = "";
    let result = null;
    proc.stderr.on("data", (d) => {
      stderr += d;
    });
    proc.on("message", (m) => {
      result = m;
    });
    proc.on("error", reject);
    proc.on("exit", (code) => {
      if (result && result.failures === 0) resolve(result);
      else
        reject(
          new Error(
            `cold-start child failed (exit ${code}, ${result?.failures ?? "?"} failures): ${stderr.slice(-2000)}`,
          ),
        );
    });
  });
}

const awsEnv = (aws) => ({
  PATH: process.env.PATH,
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  AWS_ENDPOINT_URL: aws.endpoint,
});

/** Builds both release zips with the project's own script into a temp dir, each also extracted there. */
export async function buildRelease(log) {
  const dir = await mkdtemp(join(tmpdir(), "stackseam-bench-release-"));
  log("building the release zips (scripts/build-release.mjs)");
  const built = await run(
    process.execPath,
    [join(ROOT, "scripts/build-release.mjs"), "--out", dir, "--version", VERSION],
    {
      cwd: ROOT,
    },
  );
  const lines = `${built.stdout}${built.stderr}`.split("\n").filter((l) => l.includes(".zip:"));
  const functions = {};
  for (const name of ["state-manager", "task-satisfier"]) {
    const zip = join(dir, `${name}-${VERSION}.zip`);
    const target = join(dir, name);
    const entries = await unzip(zip, target);
    functions[name] = {
      zip,
      map: join(dir, `${name}-${VERSION}.js.map`),
      index: join(target, "index.mjs"),
      entries,
      build: lines.find((l) => l.startsWith(`${name}-`)) ?? "",
    };
  }
  return { dir, functions, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The environment a State Manager Lambda would get, pointed at the bench's Postgres and fauxqs. */
export const stateManagerEnv = (aws, dbUrl, taskQueueUrl) => ({
  ...awsEnv(aws),
  DATABASE_URL: dbUrl,
  MACHINE_LOCATOR: "S3",
  MACHINE_S3_BUCKET: aws.bucket,
  MACHINE_S3_KEY: aws.prefix,
  SQS_TASK_QUEUE_URL: taskQueueUrl,
});

/**
 * Node's compile cache (NODE_COMPILE_CACHE): one run writes a portable cache next to index.mjs, as
 * a cache shipped in the zip would be; the folder is then copied elsewhere (a different path, as
 * /var/task is) and fresh processes run with and without it, alternated. The cache is only valid
 * for the exact Node version, architecture and V8 flags that wrote it.
 */
async function compileCacheRuns({ runs, log, release, env, events }) {
  const dir = dirname(release.index);
  const cacheDir = join(dir, ".node-compile-cache");
  const cacheEnv = { NODE_COMPILE_CACHE: cacheDir, NODE_COMPILE_CACHE_PORTABLE: "1" };
  log("cold start: state-manager with Node's compile cache (one run writes it)");
  await child(release.index, await events(1000), { ...env, ...cacheEnv }, false);
  const moved = `${dir}-moved`;
  await cp(dir, moved, { recursive: true });
  const movedIndex = join(moved, "index.mjs");
  const movedCache = {
    NODE_COMPILE_CACHE: join(moved, ".node-compile-cache"),
    NODE_COMPILE_CACHE_PORTABLE: "1",
  };
  const cacheBytes = await folderBytes(join(moved, ".node-compile-cache"));
  const withCache = [];
  const without = [];
  for (let i = 0; i < runs; i++) {
    // Alternated, so a drift in machine load favours neither.
    withCache.push(await child(movedIndex, await events(1100 + i), { ...env, ...movedCache }, false));
    without.push(await child(movedIndex, await events(1200 + i), env, false));
  }
  const pick = (samples) => ({
    importMs: median(samples.map((s) => s.importMs)),
    firstMs: median(samples.map((s) => s.firstMs)),
    readyAt: median(samples.map((s) => s.readyAt)),
  });
  return { runs, cacheBytes, with: pick(withCache), without: pick(without) };
}

async function folderBytes(dir) {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

export async function runColdStart({ adminUrl, aws, quick, log, release }) {
  const runs = quick ? 3 : 11;
  const db = await createDatabase(adminUrl);
  const lambda = await startLambdaStub();
  try {
    const taskQueueUrl = aws.newQueue("cold-tasks");
    const eventQueueUrl = aws.newQueue("cold-events");
    const functions = {
      "state-manager": {
        env: { ...stateManagerEnv(aws, db.url, taskQueueUrl), SQS_EVENT_QUEUE_URL: eventQueueUrl },
        events: (i) => launches([`cold-${i}-a`, `cold-${i}-b`]).map((r) => ({ Records: [r] })),
      },
      "task-satisfier": {
        env: { ...awsEnv(aws), AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint, SQS_EVENT_QUEUE_URL: eventQueueUrl },
        // Real task messages, as the State Manager wrote them for the stacks above.
        events: async (i) => {
          const client = new pg.Client({ connectionString: db.url });
          await client.connect();
          try {
            const rows = (
              await client.query("SELECT body FROM outbox WHERE stack_id IN ($1, $2) ORDER BY stack_id", [
                `cold-${i}-a`,
                `cold-${i}-b`,
              ])
            ).rows;
            if (rows.length !== 2) throw new Error(`cold start: no task messages for run ${i}`);
            return rows.map((r) => ({ Records: [{ ...sqsRecord({}), body: r.body }] }));
          } finally {
            await client.end();
          }
        },
      },
    };

    const results = {};
    for (const [name, fn] of Object.entries(functions)) {
      const { zip, map, index: indexFile, entries, build } = release.functions[name];
      const samples = [];
      log(`cold start: ${name}, ${runs} fresh processes`);
      for (let i = 0; i < runs; i++) samples.push(await child(indexFile, await fn.events(i), fn.env, false));
      // One more, profiled, with the same events shape (its timings are not used: sampling slows it).
      const profiled = await child(indexFile, await fn.events(runs), fn.env, true);
      const locate = await bundleLocator(pathToFileURL(indexFile).href, map);
      results[name] = {
        zipBytes: (await stat(zip)).size,
        indexBytes: (await stat(indexFile)).size,
        entries,
        build,
        runs,
        importMs: median(samples.map((s) => s.importMs)),
        importP90: quantile(
          samples.map((s) => s.importMs),
          0.9,
        ),
        readyAt: median(samples.map((s) => s.readyAt)),
        firstMs: median(samples.map((s) => s.firstMs)),
        firstP90: quantile(
          samples.map((s) => s.firstMs),
          0.9,
        ),
        secondMs: median(samples.map((s) => s.secondMs)),
        maxRssMB: median(samples.map((s) => s.maxRssMB)),
        samples: samples.map(({ importMs, firstMs, secondMs }) => ({ importMs, firstMs, secondMs })),
        profile: {
          import: summariseProfile(profiled.profiles.import, locate),
          first: summariseProfile(profiled.profiles.first, locate),
        },
      };
    }
    results["state-manager"].compileCache = await compileCacheRuns({
      runs,
      log,
      release: release.functions["state-manager"],
      env: functions["state-manager"].env,
      events: functions["state-manager"].events,
    });
    // Every task must have reached the (stub) function and been reported as completed.
    const reports = aws.bodies(eventQueueUrl);
    const completed = reports.filter((r) => r.event === "TASK_COMPLETED").length;
    if (completed !== reports.length || lambda.invocations() !== reports.length || reports.length === 0)
      throw new Error(
        `cold start: task satisfier reports ${JSON.stringify(reports.slice(0, 2))}, invocations ${lambda.invocations()}`,
      );
    results["task-satisfier"].lambdaInvocations = lambda.invocations();
    return results;
  } finally {
    await lambda.stop();
    await db.drop();
  }
}
