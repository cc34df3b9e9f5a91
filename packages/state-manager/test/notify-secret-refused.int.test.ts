// A spec may not have the State Manager sign webhooks with its own credentials or settings
// (docs/security.md, docs/spec-reference.md#notifications): such a notification is given up at once,
// saying why, and nothing is sent to the target.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStateManager, localMachineSource, openDatabase } from "@stackseam/state-manager";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { createNotifier } from "../src/notify/notifier.js";
import { deliver, event, silentLogger, sqsRecord } from "./helpers.js";

const spec = (url: string) => `version: 1
events: [LAUNCH]
notifications:
  - name: hook
    on: [state-entered]
    webhook:
      url: "${url}"
      secret: { env: AWS_SECRET_ACCESS_KEY }
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: DONE }]
  DONE:
    terminal: true
tasks:
  apply:
    executor: lambda
    config: { name: apply }
`;

describe("a webhook that would sign with the State Manager's credentials", () => {
  let database: TestDatabase;
  let aws: TestAws;
  let dir: string;
  let receiver: Server;
  const received: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    aws = await startTestAws();
    receiver = createServer((req, res) => {
      received.push(req.url ?? "");
      res.end();
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    dir = await mkdtemp(join(tmpdir(), "stackseam-notify-refused-"));
    await writeFile(
      join(dir, "signed.yml"),
      spec(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`),
    );
  });
  afterAll(async () => {
    await new Promise((r) => receiver.close(r));
    await aws?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("is given up at once with the reason, and the target gets nothing", async () => {
    const db = openDatabase(database.url, { max: 2 });
    const logger = silentLogger();
    const notifier = createNotifier({
      db,
      logger,
      deps: { now: () => new Date(), random: () => 0.5 },
      env: { AWS_SECRET_ACCESS_KEY: "the-state-managers-own-key" },
    });
    const sm = createStateManager({
      db,
      sqs: aws.sqs,
      taskQueueUrl: aws.taskQueueUrl,
      machines: localMachineSource({ dir }),
      logger,
      notifier,
    });
    try {
      await deliver(sm, sqsRecord(event("refused-1", "LAUNCH", { machine: "signed" })));
      const c = new pg.Client({ connectionString: database.url });
      await c.connect();
      try {
        const { rows } = await c.query<{ sent_at: Date | null; failed_at: Date | null; last_error: string }>(
          "SELECT sent_at, failed_at, last_error FROM notifications WHERE stack_id = 'refused-1'",
        );
        expect(rows).toHaveLength(1);
        expect(rows[0]?.sent_at).toBeNull();
        expect(rows[0]?.failed_at).not.toBeNull();
        expect(rows[0]?.last_error).toBe(
          "webhook secret env AWS_SECRET_ACCESS_KEY is not allowed: it is one of the State Manager's own settings or credentials; use a variable of your own (e.g. STACKSEAM_WEBHOOK_SECRET)",
        );
      } finally {
        await c.end();
      }
      expect(received).toEqual([]);
    } finally {
      await sm.close();
      await db.destroy();
    }
  });
});
