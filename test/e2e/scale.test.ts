import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { buildCli, type DevProcess, eventually, removeDir, startDev, tempDataDir } from "./dev-harness.js";

const STACKS = 50;
const LATENCY_SAMPLES = 20;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe("stackseam dev: many stacks at once", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let dev: DevProcess;
  let sqs: SQSClient;
  let client: pg.Client;

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    dev = await startDev({ dataDir, databaseUrl: db.url });
    const info = dev.instance();
    sqs = new SQSClient({
      endpoint: info.endpoint,
      region: info.region,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    sqs?.destroy();
    await client?.end();
    if (dev) expect(await dev.stop("SIGINT")).toBe(0);
    await db?.drop();
    if (dataDir) await removeDir(dataDir);
  });

  const inRun = async (prefix: string) =>
    Number(
      (await client.query("SELECT count(*) FROM stacks WHERE id LIKE $1 AND state = 'RUN'", [`${prefix}%`]))
        .rows[0].count,
    );

  it(`${STACKS} stacks launched at once all reach RUN`, async () => {
    const { eventQueueUrl } = dev.instance();
    const bodies = Array.from({ length: STACKS }, (_, i) =>
      JSON.stringify({
        stackId: `load-${i}`,
        event: "LAUNCH",
        machine: "qa-env",
        metadata: { apiImageTag: `t${i}` },
      }),
    );
    await Promise.all(
      Array.from({ length: STACKS / 10 }, (_, b) =>
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: eventQueueUrl,
            Entries: bodies
              .slice(b * 10, b * 10 + 10)
              .map((MessageBody, i) => ({ Id: String(i), MessageBody })),
          }),
        ),
      ),
    );
    await eventually(`${STACKS} stacks in RUN`, async () =>
      (await inRun("load-")) === STACKS ? true : undefined,
    );
    const failures = await client.query(
      "SELECT count(*) FROM history WHERE stack_id LIKE 'load-%' AND outcome <> 'applied'",
    );
    expect(Number(failures.rows[0].count)).toBe(0);
  });

  it("measures LAUNCH → RUN with instant tasks (reported, not asserted)", async () => {
    const { eventQueueUrl } = dev.instance();
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const id = `lat-${i}`;
      const sent = Date.now();
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: eventQueueUrl,
          MessageBody: JSON.stringify({
            stackId: id,
            event: "LAUNCH",
            machine: "qa-env",
            metadata: { delayMs: 0 },
          }),
        }),
      );
      // The history row's commit time (same host clock) is when the stack entered RUN.
      const at = await eventually(`${id} in RUN`, async () => {
        const r = await client.query<{ at: Date }>(
          "SELECT created_at AS at FROM history WHERE stack_id = $1 AND to_state = 'RUN' ORDER BY id LIMIT 1",
          [id],
        );
        return r.rows[0]?.at;
      });
      latencies.push(at.getTime() - sent);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const report = {
      samples: sorted.length,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      max: sorted.at(-1),
    };
    console.log(`LAUNCH → RUN latency (ms, instant tasks): ${JSON.stringify(report)}`);
    expect(sorted).toHaveLength(LATENCY_SAMPLES);
  });
});
