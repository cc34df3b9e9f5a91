import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { parseTaskMessage, type TaskMessage, taskReport } from "@stackseam/core";
import type { EventQueue } from "./event-queue.js";
import { pause, type Rng } from "./random.js";

export interface SatisfierStats {
  /** Task messages received (distinct SQS message ids). */
  received: number;
  /** Bodies that fail the task-message schema: must stay 0. */
  invalid: number;
  completed: number;
  errors: number;
  lateDuplicates: number;
  operatorRetries: number;
  /** Receive/delete calls that threw (fauxqs is not under fault injection: must stay 0). */
  pollErrors: number;
}

/**
 * Stands in for the Task Satisfier: reads task messages from the real (faux) task queue and
 * reports TASK_COMPLETED / TASK_ERROR to the event queue after a random latency, failing now and
 * then (less on later attempts, so every stack can finish), sometimes reporting twice (late
 * duplicate). An "operator" answers some errors with RETRY_FAILED_TASKS.
 */
export class SimulatedSatisfier {
  readonly stats: SatisfierStats = {
    received: 0,
    invalid: 0,
    completed: 0,
    errors: 0,
    lateDuplicates: 0,
    operatorRetries: 0,
    pollErrors: 0,
  };
  /** token → the SQS message ids it arrived under (exactly one each is the promise). */
  readonly deliveries = new Map<string, Set<string>>();
  /** token → the task message's body as received. */
  readonly bodies = new Map<string, string>();
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #events: EventQueue;
  readonly #rng: Rng;
  #pending = 0;
  #polling = 0;
  #stopping = false;
  #loops: Promise<void>[] = [];

  constructor(sqs: SQSClient, taskQueueUrl: string, events: EventQueue, rng: Rng) {
    this.#sqs = sqs;
    this.#queueUrl = taskQueueUrl;
    this.#events = events;
    this.#rng = rng;
  }

  start(pollers: number): void {
    this.#loops = Array.from({ length: pollers }, () => this.#poll());
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#loops);
  }

  /** Reports scheduled but not yet published, or a receive in progress. */
  get busy(): boolean {
    return this.#pending > 0 || this.#polling > 0;
  }

  /** Messages on the task queue, visible or not (only meaningful while nothing is being received). */
  async queued(): Promise<number> {
    const res = await this.#sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.#queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    const a = res.Attributes ?? {};
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  async #poll(): Promise<void> {
    while (!this.#stopping) {
      this.#polling += 1;
      let messages: Message[] = [];
      try {
        const res = await this.#sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.#queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 30,
          }),
        );
        messages = res.Messages ?? [];
        if (messages.length > 0) {
          for (const m of messages) this.#accept(m);
          await this.#sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: this.#queueUrl,
              Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
            }),
          );
        }
      } catch {
        this.stats.pollErrors += 1;
      } finally {
        this.#polling -= 1;
      }
      if (messages.length === 0) await pause(5);
    }
  }

  #accept(m: Message): void {
    const parsed = parseTaskMessage(m.Body ?? "");
    if (!parsed.ok) {
      this.stats.invalid += 1;
      return;
    }
    const task = parsed.message;
    const ids = this.deliveries.get(task.token) ?? new Set<string>();
    const first = ids.size === 0;
    ids.add(m.MessageId ?? "");
    this.deliveries.set(task.token, ids);
    if (!first) return; // the same SQS message again (visibility expired): it was already run
    this.stats.received += 1;
    this.bodies.set(task.token, m.Body ?? "");
    this.#schedule(this.#rng.int(0, 15), () => this.#report(task));
  }

  #report(task: TaskMessage): void {
    const failure = task.attempt >= 3 ? 0 : task.attempt === 2 ? 0.1 : 0.15;
    const fails = this.#rng.chance(failure);
    const report = fails
      ? taskReport(task, {
          ok: false,
          description: `simulated failure of ${task.task} (attempt ${task.attempt})`,
        })
      : taskReport(task, { ok: true });
    if (fails) this.stats.errors += 1;
    else this.stats.completed += 1;
    this.#events.publish(report as unknown as Record<string, unknown>);
    if (this.#rng.chance(0.1)) {
      this.stats.lateDuplicates += 1;
      this.#schedule(this.#rng.int(5, 60), () =>
        this.#events.publish(report as unknown as Record<string, unknown>),
      );
    }
    if (fails && this.#rng.chance(0.7)) {
      this.stats.operatorRetries += 1;
      this.#schedule(this.#rng.int(0, 30), () =>
        this.#events.publish({
          stackId: task.stackId,
          event: "RETRY_FAILED_TASKS",
          eventId: crypto.randomUUID(),
        }),
      );
    }
  }

  #schedule(ms: number, fn: () => void): void {
    this.#pending += 1;
    setTimeout(() => {
      this.#pending -= 1;
      fn();
    }, ms);
  }
}
