// §2 Spec loading from S3: how many S3 requests the State Manager makes in steady state, and
// what loading a spec costs. (The first event after a cold start is measured by cold-start.mjs.)

import { readFile } from "node:fs/promises";
import { Logger } from "@aws-lambda-powertools/logger";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { parseSpec } from "@stackseam/core";
import { createPool, createStateManager, databaseFromPool, s3MachineSource } from "@stackseam/state-manager";
import pg from "pg";
import { CREDENTIALS, createDatabase, MACHINE, REGION, SPEC_FILE } from "./lib/infra.mjs";
import { median } from "./lib/stats.mjs";
import { completions, dispatchedTasks, lambdaContext, launches, stackIds, touches } from "./lib/workload.mjs";

/** An S3 client that counts the commands it sends, by name. */
function countingS3(endpoint) {
  const s3 = new S3Client({ endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  const counts = {};
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      counts[context.commandName] = (counts[context.commandName] ?? 0) + 1;
      return next(args);
    },
    { step: "initialize", name: "benchRequestCounter" },
  );
  return { s3, counts, total: () => Object.values(counts).reduce((a, b) => a + b, 0) };
}

async function inBatches(manager, records) {
  const context = lambdaContext("stackseam-state-manager");
  for (let i = 0; i < records.length; i += 10) {
    const res = await manager.handler({ Records: records.slice(i, i + 10) }, context);
    if (res.batchItemFailures.length > 0) throw new Error("spec-loading: batch item failures");
  }
}

export async function runSpecLoading({ adminUrl, aws, quick, log }) {
  const db = await createDatabase(adminUrl);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const kysely = databaseFromPool(createPool(db.url, { max: 1 }));
  const sqs = new SQSClient({ endpoint: aws.endpoint, region: REGION, credentials: CREDENTIALS });
  const logger = new Logger({ serviceName: "stackseam-state-manager", logLevel: "SILENT" });
  const taskQueueUrl = aws.newQueue("spec");
  const manager = (machines) =>
    createStateManager({ db: kysely, sqs, taskQueueUrl, machines, logger, concurrency: 1 });
  try {
    // A: the default TTL (30 s), one container handling 1,000 stacks × 3 events.
    log("spec loading: steady state at the default TTL");
    const stacks = quick ? 200 : 1000;
    const a = countingS3(aws.endpoint);
    const sm = manager(s3MachineSource({ s3: a.s3, bucket: aws.bucket, prefix: aws.prefix }));
    const ids = stackIds("spec", stacks);
    const t0 = performance.now();
    await inBatches(sm, launches(ids.slice(0, 1)));
    const coldRequests = a.total();
    await inBatches(sm, launches(ids.slice(1)));
    await inBatches(sm, completions(await dispatchedTasks(client, "spec")));
    await inBatches(sm, touches(ids));
    const steadyMs = performance.now() - t0;
    const events = stacks * 3;
    const steadyRequests = a.total() - coldRequests;

    // B: a 1 s TTL while events keep arriving for a few seconds: at most one listing per period.
    log("spec loading: revalidation with a 1 s TTL");
    const ttlSeconds = 1;
    const b = countingS3(aws.endpoint);
    const smB = manager(s3MachineSource({ s3: b.s3, bucket: aws.bucket, prefix: aws.prefix, ttlSeconds }));
    const idsB = stackIds("ttl", 50);
    await inBatches(smB, launches(idsB));
    const b0 = { ...b.counts };
    const tb = performance.now();
    let touched = 0;
    const runFor = quick ? 2500 : 5500;
    while (performance.now() - tb < runFor) {
      await inBatches(smB, touches(idsB));
      touched += idsB.length;
    }
    const ttlMs = performance.now() - tb;
    const lists = (b.counts.ListObjectsV2Command ?? 0) - (b0.ListObjectsV2Command ?? 0);
    const gets = (b.counts.GetObjectCommand ?? 0) - (b0.GetObjectCommand ?? 0);

    // C: what a (re)load costs once the code is warm: list + get + parse, and the parse alone.
    log("spec loading: load and parse cost");
    const loadMs = [];
    for (let i = 0; i < (quick ? 3 : 10); i++) {
      const c = countingS3(aws.endpoint);
      const source = s3MachineSource({ s3: c.s3, bucket: aws.bucket, prefix: aws.prefix });
      const t = performance.now();
      const found = await source.get(MACHINE);
      loadMs.push(performance.now() - t);
      if (!found.ok) throw new Error(`spec-loading: ${found.reason}`);
      c.s3.destroy();
    }
    const text = await readFile(SPEC_FILE, "utf8");
    const parseMs = [];
    for (let i = 0; i < (quick ? 20 : 100); i++) {
      const t = performance.now();
      parseSpec(text, { name: MACHINE });
      parseMs.push(performance.now() - t);
    }
    a.s3.destroy();
    b.s3.destroy();
    return {
      steady: {
        events,
        ms: steadyMs,
        coldRequests,
        coldCounts: { ...a.counts },
        steadyRequests,
        perThousand: (steadyRequests / events) * 1000,
      },
      ttl: {
        ttlSeconds,
        ms: ttlMs,
        events: touched,
        lists,
        gets,
        periods: ttlMs / (ttlSeconds * 1000),
        listsPerPeriod: lists / (ttlMs / (ttlSeconds * 1000)),
        perThousand: ((lists + gets) / touched) * 1000,
      },
      loadMs: median(loadMs),
      parseMs: median(parseMs),
    };
  } finally {
    await kysely.destroy();
    sqs.destroy();
    await client.end();
    await db.drop();
  }
}
