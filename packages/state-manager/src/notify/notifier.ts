// Orchestration layer: delivering the notifications outbox. A batch sends what its events wrote,
// right after its transactions committed and within a small budget; the tick sends whatever is due
// (retries, and rows a batch left). Nothing here throws into its caller: a target that is down,
// slow or refusing costs at most the budget and never touches a transition, which has committed.
import type { Logger } from "@aws-lambda-powertools/logger";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SNSClient } from "@aws-sdk/client-sns";
import type { Deps, Notification } from "@stackseam/core";
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import { NOTIFY_DEFAULTS, retryDelayMs } from "./backoff.js";
import { deliverEventBridge } from "./eventbridge.js";
import {
  type ClaimedNotification,
  claimDue,
  markFailed,
  markSent,
  scheduleRetry,
} from "./notification-rows.js";
import { type Delivery, failed, retry } from "./outcome.js";
import { notificationPayload } from "./payload.js";
import { scrub, urlForLogs, urlSecrets } from "./redact.js";
import { deliverSns } from "./sns.js";
import { deliverWebhook } from "./webhook.js";
import { type WebhookSecrets, webhookSecrets } from "./webhook-secrets.js";

type Lazy<T> = T | (() => T);

export interface NotifierOptions {
  db: Kysely<Database>;
  logger: Logger;
  /** Scheduling clock (next attempts, sent/failed times) and jitter; the tests inject their own. */
  deps: Pick<Deps, "now" | "random">;
  /** Where `{env: NAME}` webhook secrets are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Clients (or factories), made on first use otherwise, once per notifier (per container). */
  sns?: Lazy<SNSClient>;
  eventBridge?: Lazy<EventBridgeClient>;
  secretsManager?: Lazy<SecretsManagerClient>;
  /** For clients made here: region and endpoints (fauxqs, LocalStack). */
  aws?: { region?: string; endpoints?: { sns?: string; eventBridge?: string; secretsManager?: string } };
  /** Secrets a spec may never sign with (the database secret's id). */
  forbiddenSecretIds?: readonly string[];
  /** One request's timeout (default 2 s). */
  requestTimeoutMs?: number;
  /** What a batch spends on its notifications (default 2 s; 0 leaves them all to the tick). */
  batchBudgetMs?: number;
  /** Attempts in all before a notification is given up (default 10). */
  maxAttempts?: number;
  leaseMs?: number;
  concurrency?: number;
  coolDownMs?: number;
  /** Seconds for signature timestamps: the wall clock, which receivers compare with theirs. */
  unixSeconds?: () => number;
}

/** What one send did. */
export interface SendSummary {
  sent: number;
  /** Failed this time; another attempt is scheduled. */
  retrying: number;
  /** Given up (refused by the target, or out of attempts). */
  failed: number;
  /** The budget ran out while notifications were still due (the tick sends them). */
  outOfTime: boolean;
}

export interface Notifier {
  /** After a batch committed: sends the due notifications of these stacks, within the batch budget. */
  afterBatch(stackIds: Iterable<string>): Promise<SendSummary>;
  /** From the tick: sends every due notification (retries included), for at most `budgetMs`. */
  sendDue(budgetMs: number): Promise<SendSummary>;
}

// Below this, a request is not started: it would be cut off before most targets answer.
const MIN_REQUEST_MS = 200;

function lazy<T>(given: Lazy<T> | undefined, make: () => T): () => T {
  let made: T | undefined;
  return () => {
    if (made === undefined) made = typeof given === "function" ? (given as () => T)() : (given ?? make());
    return made;
  };
}

/** Where a notification goes, as logs may show it: never a webhook URL's path, query or user info. */
export function describeDestination(d: Notification["destination"]): string {
  if (d.webhook) return `webhook ${urlForLogs(d.webhook.url)}`;
  if (d.sns) return `sns ${d.sns.topicArn}`;
  if (d.eventbridge) return `eventbridge ${d.eventbridge.bus}`;
  return "no target";
}

/** A notifier over the notifications table; clients are made on first use. */
export function createNotifier(opts: NotifierOptions): Notifier {
  const { db, logger, deps } = opts;
  const timeoutMs = opts.requestTimeoutMs ?? NOTIFY_DEFAULTS.requestTimeoutMs;
  const batchBudgetMs = opts.batchBudgetMs ?? NOTIFY_DEFAULTS.batchBudgetMs;
  const maxAttempts = opts.maxAttempts ?? NOTIFY_DEFAULTS.maxAttempts;
  const leaseMs = opts.leaseMs ?? NOTIFY_DEFAULTS.leaseMs;
  const concurrency = opts.concurrency ?? NOTIFY_DEFAULTS.concurrency;
  const coolDownMs = opts.coolDownMs ?? NOTIFY_DEFAULTS.coolDownMs;
  const random = deps.random ?? Math.random;
  const unixSeconds = opts.unixSeconds ?? (() => Math.floor(Date.now() / 1000));
  const region = opts.aws?.region;
  const endpoints = opts.aws?.endpoints ?? {};
  const clientConfig = (endpoint: string | undefined) => ({
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
  });
  const sns = lazy(opts.sns, () => new SNSClient(clientConfig(endpoints.sns)));
  const eventBridge = lazy(
    opts.eventBridge,
    () => new EventBridgeClient(clientConfig(endpoints.eventBridge)),
  );
  const secrets: WebhookSecrets = webhookSecrets({
    env: opts.env ?? process.env,
    secretsManager: lazy(
      opts.secretsManager,
      () => new SecretsManagerClient(clientConfig(endpoints.secretsManager)),
    ),
    forbiddenSecretIds: opts.forbiddenSecretIds ?? [],
  });
  // Destinations that just timed out or failed with a 5xx: batches leave them to the tick for a
  // while, so a target that hangs costs one batch its budget, not every batch.
  const coolingDown = new Map<string, { until: number; destination: Notification["destination"] }>();

  function cooling(): Notification["destination"][] {
    const now = performance.now();
    for (const [key, c] of coolingDown) if (c.until <= now) coolingDown.delete(key);
    return [...coolingDown.values()].map((c) => c.destination);
  }

  async function deliver(row: ClaimedNotification, timeout: number): Promise<Delivery> {
    const d = row.destination;
    const payload = notificationPayload(row.id, row.attempts, row.body);
    if (d.webhook) {
      let secret: string | undefined;
      if (d.webhook.secret) {
        const found = await secrets.resolve(d.webhook.secret);
        if (!found.ok) return found.permanent ? failed(found.error) : retry(found.error);
        secret = found.value;
      }
      const delivery = await deliverWebhook({
        target: d.webhook,
        payload,
        secret,
        timeoutMs: timeout,
        unixSeconds: unixSeconds(),
      });
      if (delivery.kind === "sent") return delivery;
      return { ...delivery, error: scrub(delivery.error, [...urlSecrets(d.webhook.url), secret]) };
    }
    if (d.sns) return deliverSns(sns(), { topicArn: d.sns.topicArn, payload, timeoutMs: timeout });
    if (d.eventbridge)
      return deliverEventBridge(eventBridge(), { target: d.eventbridge, payload, timeoutMs: timeout });
    return failed("the notification names no target (webhook, sns or eventbridge)");
  }

  async function attempt(row: ClaimedNotification, timeout: number, summary: SendSummary): Promise<void> {
    const fields = {
      notificationId: row.id,
      stackId: row.stack_id,
      kind: row.kind,
      target: row.target,
      destination: describeDestination(row.destination),
      attempt: row.attempts,
    };
    let delivery: Delivery;
    try {
      delivery = await deliver(row, timeout);
    } catch (err) {
      // Not expected (every delivery returns its failures); the name only, as its message is unknown.
      delivery = retry(`unexpected ${(err as Error)?.name ?? "error"}`);
    }
    const now = deps.now();
    try {
      if (delivery.kind === "sent") {
        await markSent(db, row, now);
        summary.sent += 1;
        logger.info("notification sent", fields);
        return;
      }
      if (delivery.kind === "retry") {
        const key = JSON.stringify(row.destination);
        coolingDown.set(key, { until: performance.now() + coolDownMs, destination: row.destination });
      }
      if (delivery.kind === "failed" || row.attempts >= maxAttempts) {
        const error =
          delivery.kind === "failed"
            ? delivery.error
            : `${delivery.error} (given up after ${row.attempts} attempts)`;
        await markFailed(db, row, now, error);
        summary.failed += 1;
        logger.error("notification given up", { ...fields, error });
        return;
      }
      const delay = Math.max(retryDelayMs(row.attempts, random), delivery.afterMs ?? 0);
      const at = new Date(now.getTime() + delay);
      await scheduleRetry(db, row, at, delivery.error);
      summary.retrying += 1;
      logger.warn("notification not delivered; retried later", {
        ...fields,
        error: delivery.error,
        nextAttemptAt: at.toISOString(),
      });
    } catch (err) {
      // The row keeps its lease and comes due again when it ends.
      logger.error("notification outcome not recorded; the row comes due again after its lease", {
        ...fields,
        outcome: delivery.kind,
        error: err as Error,
      });
    }
  }

  async function run(budgetMs: number, stackIds: readonly string[] | undefined): Promise<SendSummary> {
    const summary: SendSummary = { sent: 0, retrying: 0, failed: 0, outOfTime: false };
    const started = performance.now();
    const left = () => budgetMs - (performance.now() - started);
    try {
      for (;;) {
        if (left() < MIN_REQUEST_MS) {
          summary.outOfTime = true;
          return summary;
        }
        const rows = await claimDue(db, {
          now: deps.now(),
          leaseMs,
          limit: concurrency,
          ...(stackIds ? { stackIds, skipDestinations: cooling() } : {}),
        });
        if (rows.length === 0) return summary;
        const timeout = Math.min(timeoutMs, Math.max(MIN_REQUEST_MS, left()));
        await Promise.all(rows.map((row) => attempt(row, timeout, summary)));
        if (rows.length < concurrency) return summary;
      }
    } catch (err) {
      logger.error("notifications could not be claimed; the tick tries again", { error: err as Error });
      return summary;
    }
  }

  return {
    async afterBatch(stackIds) {
      const ids = [...new Set(stackIds)];
      if (ids.length === 0 || batchBudgetMs <= 0) {
        return { sent: 0, retrying: 0, failed: 0, outOfTime: ids.length > 0 };
      }
      return run(batchBudgetMs, ids);
    },
    sendDue(budgetMs) {
      return run(budgetMs, undefined);
    },
  };
}
