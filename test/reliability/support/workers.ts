import { Logger } from "@aws-lambda-powertools/logger";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Deps } from "@stackseam/core";
import {
  createPool,
  createStateManager,
  type Database,
  databaseFromPool,
  localMachineSource,
  type StateManager,
} from "@stackseam/state-manager";
import type { Kysely } from "kysely";
import type pg from "pg";
import { TEST_CREDENTIALS, type TestAws } from "../../support/aws.js";
import { type Delivery, type EventQueue, toRecord } from "./event-queue.js";
import { MACHINE_DIR } from "./machines.js";
import { pause, type Rng } from "./random.js";

/** Faults a worker can suffer; the stress run passes none, the fault run a chaos schedule. */
export interface WorkerFaults {
  /** SQS sends fail while this is true (an outage window). */
  sqsDown(): boolean;
  /** Asked at each machine lookup (inside the event's transaction): die here? */
  killNow(): boolean;
  /** Called after every batch, with the running batch count. */
  afterBatch?(batches: number): void;
}

export const NO_FAULTS: WorkerFaults = { sqsDown: () => false, killNow: () => false };

/** An injected failure, named so that logs and error chains show where it came from. */
export class InjectedFault extends Error {
  override name = "InjectedFault";
}

export const silentLogger = () =>
  new Logger({
    serviceName: "stackseam-reliability",
    logLevel: process.env.STACKSEAM_RELIABILITY_DEBUG === "1" ? "ERROR" : "SILENT",
  });

/** One "Lambda container": its own pool, SQS client and State Manager. */
interface Incarnation {
  appName: string;
  db: Kysely<Database>;
  sqs: SQSClient;
  sm: StateManager;
  killed: boolean;
  died: Promise<void>;
  die(): void;
}

export interface WorkerStats {
  batches: number;
  failedRecords: number;
  kills: number;
}

export interface Workers {
  readonly stats: WorkerStats;
  /** True when no worker holds a batch. */
  idle(): boolean;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  count: number;
  url: string;
  aws: TestAws;
  queue: EventQueue;
  rng: Rng;
  /** Server-wide admin connection used to terminate a killed worker's sessions. */
  admin: pg.Pool;
  faults?: WorkerFaults;
  /** Stack ids of a batch once it is settled (the publisher paces itself on these). */
  onSettled?(stackIds: string[]): void;
  /** The run's clock and tokens, shared with the tick so that time can pass at quiet moments. */
  deps?: Deps;
}

/** Starts `count` concurrent handler workers pulling batches from the simulated event queue. */
export function startWorkers(opts: WorkerOptions): Workers {
  const faults = opts.faults ?? NO_FAULTS;
  const stats: WorkerStats = { batches: 0, failedRecords: 0, kills: 0 };
  const busy = new Set<number>();
  const closing: Promise<void>[] = [];
  let stopping = false;
  let serial = 0;

  function incarnate(worker: number): Incarnation {
    serial += 1;
    const appName = `stackseam-rel-w${worker}-${serial}`;
    const pool = createPool(opts.url, { max: 2, applicationName: appName, connectionTimeoutMillis: 5_000 });
    const db = databaseFromPool(pool);
    const sqs = new SQSClient({
      endpoint: opts.aws.endpoint,
      region: opts.aws.region,
      credentials: TEST_CREDENTIALS,
    });
    let die = () => {};
    const died = new Promise<void>((resolve) => {
      die = resolve;
    });
    const inc = { appName, db, sqs, killed: false, died, die } as Incarnation;
    sqs.middlewareStack.add(
      (next) => async (args) => {
        if (inc.killed) throw new InjectedFault("this worker was killed");
        if (faults.sqsDown()) throw new InjectedFault("SQS is unreachable (injected outage)");
        return next(args);
      },
      { step: "initialize", name: "reliabilityFaults" },
    );
    // An armed kill strikes just before the worker's next statement inside a transaction (after
    // its BEGIN: a row may be locked, half the event written), where a crash hurts most.
    pool.on("connect", (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const text = typeof args[0] === "string" ? args[0] : "";
        if (!/^\s*(BEGIN|COMMIT|ROLLBACK)\b/i.test(text) && !inc.killed && faults.killNow()) {
          return kill(inc).then(() => query(...args));
        }
        return query(...args);
      };
    });
    const machines = localMachineSource({ dir: MACHINE_DIR });
    inc.sm = createStateManager({
      db,
      sqs,
      taskQueueUrl: opts.aws.taskQueueUrl,
      machines,
      logger: silentLogger(),
      concurrency: 2,
      ...(opts.deps ? { deps: opts.deps } : {}),
    });
    return inc;
  }

  /** Kills a container mid-batch: its sessions die, its pool and SQS client refuse all further work. */
  async function kill(inc: Incarnation): Promise<void> {
    inc.killed = true;
    stats.kills += 1;
    closing.push(inc.db.destroy().catch(() => {}));
    await opts.admin
      .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
        inc.appName,
      ])
      .catch(() => {});
    inc.die();
  }

  async function run(worker: number): Promise<void> {
    let inc = incarnate(worker);
    const rng = opts.rng.fork(worker);
    while (!stopping) {
      const batch: Delivery[] = opts.queue.receive(rng.int(1, 10));
      if (batch.length === 0) {
        await pause(2);
        continue;
      }
      busy.add(worker);
      const work = inc.sm.processRecords(batch.map(toRecord)).then(
        (res) => new Set(res.batchItemFailures.map((f) => f.itemIdentifier)),
        () => new Set(batch.map((d) => d.messageId)),
      );
      const outcome = await Promise.race([work, inc.died.then(() => "killed" as const)]);
      if (outcome === "killed") {
        opts.queue.abandon(batch);
        const dead = inc;
        closing.push(work.then(() => dead.sqs.destroy()));
        inc = incarnate(worker);
      } else {
        opts.queue.settle(batch, outcome);
        stats.failedRecords += outcome.size;
        // A whole batch failing means an outage: back off a little, as Lambda's poller would.
        if (outcome.size === batch.length) await pause(10);
      }
      stats.batches += 1;
      faults.afterBatch?.(stats.batches);
      busy.delete(worker);
      opts.onSettled?.([...new Set(batch.map((d) => d.stackId).filter((s): s is string => s !== null))]);
    }
    await inc.sm.close();
    await inc.db.destroy().catch(() => {});
    inc.sqs.destroy();
  }

  const running = Array.from({ length: opts.count }, (_, i) => run(i));
  return {
    stats,
    idle: () => busy.size === 0,
    async stop() {
      stopping = true;
      await Promise.all(running);
      // A killed container's pool ends once its abandoned queries fail; do not wait on it forever.
      await Promise.race([Promise.all(closing), pause(10_000)]);
    },
  };
}
