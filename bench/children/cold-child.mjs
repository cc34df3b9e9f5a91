// Runs in a fresh `node` process, like a Lambda cold start: imports a release's index.mjs, handles
// a first and a second event, and reports the timings (and CPU profiles when BENCH_PROFILE=1) over IPC.
import { pathToFileURL } from "node:url";

const [indexFile, eventsJson] = process.argv.slice(2);
const events = JSON.parse(eventsJson);
const profiling = process.env.BENCH_PROFILE === "1";
const { profiler } = profiling ? await import("../lib/profile.mjs") : { profiler: null };

const context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: "bench",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:bench",
  memoryLimitInMB: "512",
  awsRequestId: "00000000-0000-4000-8000-000000000000",
  logGroupName: "/aws/lambda/bench",
  logStreamName: "bench",
  // The Task Satisfier keeps 30 s back before its deadline; give it a 15-minute function's budget.
  getRemainingTimeInMillis: () => 900_000,
  done() {},
  fail() {},
  succeed() {},
};

async function timed(fn) {
  const prof = profiling ? await profiler() : null;
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  return { ms, value, profile: prof ? await prof.stop() : null };
}

const url = pathToFileURL(indexFile).href;
const imported = await timed(() => import(url));
// performance.now() counts from process start: this is node's own boot plus the import.
const readyAt = performance.now();
const handler = imported.value.handler;
const first = await timed(() => handler(events[0], context));
const second = await timed(() => handler(events[1], context));
const failures = [first.value, second.value].flatMap((r) => r?.batchItemFailures ?? []).length;

process.send(
  {
    url,
    importMs: imported.ms,
    readyAt,
    firstMs: first.ms,
    secondMs: second.ms,
    failures,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    profiles: profiling ? { import: imported.profile, first: first.profile } : null,
  },
  () => process.exit(0),
);
