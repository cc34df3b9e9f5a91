// A fresh `node` process running a release's index.mjs handler over the batches the parent sends
// (one Lambda container's life); reports peak RSS from process.resourceUsage() at the end.
import { pathToFileURL } from "node:url";

const [indexFile] = process.argv.slice(2);
const context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: "stackseam-state-manager",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:stackseam-state-manager",
  memoryLimitInMB: "128",
  awsRequestId: "00000000-0000-4000-8000-000000000000",
  logGroupName: "/aws/lambda/stackseam-state-manager",
  logStreamName: "bench",
  getRemainingTimeInMillis: () => 30_000,
  done() {},
  fail() {},
  succeed() {},
};

const { handler } = await import(pathToFileURL(indexFile).href);
const afterImportMB = process.memoryUsage.rss() / 2 ** 20;
let events = 0;
let failures = 0;
const rssEvery1000 = [];

process.on("message", async (msg) => {
  if (msg.type === "batch") {
    const res = await handler({ Records: msg.records }, context);
    failures += res.batchItemFailures.length;
    const before = events;
    events += msg.records.length;
    if (Math.floor(before / 1000) !== Math.floor(events / 1000))
      rssEvery1000.push(process.memoryUsage.rss() / 2 ** 20);
    process.send({ type: "ok" });
  } else if (msg.type === "finish") {
    const spaces = (await import("node:v8")).getHeapSpaceStatistics();
    process.send(
      {
        type: "result",
        events,
        failures,
        afterImportMB,
        rssEvery1000,
        heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
        memoryUsageMB: Object.fromEntries(
          Object.entries(process.memoryUsage()).map(([k, v]) => [k, v / 2 ** 20]),
        ),
        heapSpacesMB: Object.fromEntries(spaces.map((s) => [s.space_name, s.space_size / 2 ** 20])),
        maxRssMB: process.resourceUsage().maxRSS / 1024,
      },
      () => process.exit(0),
    );
  }
});
process.send({ type: "ready" });
