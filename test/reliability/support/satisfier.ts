import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { parseTaskMessage, type Scalar, type TaskMessage, taskReport } from "@stackseam/core";
import type { EventQueue } from "./event-queue.js";
import { pause, type Rng } from "./random.js";

/** How the simulated Task Satisfier misbehaves beyond reporting errors (the fault run's). */
export interface SatisfierFaults {
  /** Per receive: the run crashes before it reports (the message comes back; the task queue's redrive policy counts it). */
  crash: number;
  /** Per dispatch: the task crashes on every delivery (killed at the timeout, out of memory), so it ends in the task DLQ. */
  poison: number;
}

export const NO_SATISFIER_FAULTS: SatisfierFaults = { crash: 0, poison: 0 };

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
  /** Deliveries the satisfier crashed on (returned to the task queue unreported). */
  crashes: number;
  /** Dispatches that crash on every delivery. */
  poisoned: number;
  /** TASK_COMPLETED sent after a TASK_ERROR for the same dispatch (it did finish after all). */
  lateCompletions: number;
  /** TASK_ERROR sent after a TASK_COMPLETED for the same dispatch (must be ignored). */
  lateErrors: number;
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
    crashes: 0,
    poisoned: 0,
    lateCompletions: 0,
    lateErrors: 0,
  };
  /** Tokens whose task ran (each dispatch runs once; a repeated SQS delivery of it is dropped). */
  readonly #ran = new Set<string>();
  readonly #poison = new Set<string>();
  readonly #faults: SatisfierFaults;
  readonly #dlqUrl: string | undefined;
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

  constructor(
    sqs: SQSClient,
    queues: { taskQueueUrl: string; taskDlqUrl?: string },
    events: EventQueue,
    rng: Rng,
    faults: SatisfierFaults = NO_SATISFIER_FAULTS,
  ) {
    this.#sqs = sqs;
    this.#queueUrl = queues.taskQueueUrl;
    this.#dlqUrl = queues.taskDlqUrl;
    this.#events = events;
    this.#rng = rng;
    this.#faults = faults;
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
          const crashed = messages.filter((m) => !this.#accept(m));
          const done = messages.filter((m) => !crashed.includes(m));
          if (done.length > 0) {
            await this.#sqs.send(
              new DeleteMessageBatchCommand({
                QueueUrl: this.#queueUrl,
                Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
              }),
            );
          }
          // A crashed run neither reports nor deletes: the message shows again (here at once;
          // SQS would wait for the visibility timeout) and the redrive policy counts the receive.
          if (crashed.length > 0) {
            await this.#sqs.send(
              new ChangeMessageVisibilityBatchCommand({
                QueueUrl: this.#queueUrl,
                Entries: crashed.map((m, i) => ({
                  Id: String(i),
                  ReceiptHandle: m.ReceiptHandle ?? "",
                  VisibilityTimeout: 0,
                })),
              }),
            );
          }
        }
      } catch {
        this.stats.pollErrors += 1;
      } finally {
        this.#polling -= 1;
      }
      if (messages.length === 0) await pause(5);
    }
  }

  /** Handles one delivery; false when the run crashed on it (the message must come back). */
  #accept(m: Message): boolean {
    const parsed = parseTaskMessage(m.Body ?? "");
    if (!parsed.ok) {
      this.stats.invalid += 1;
      return true;
    }
    const task = parsed.message;
    const ids = this.deliveries.get(task.token) ?? new Set<string>();
    const first = ids.size === 0;
    ids.add(m.MessageId ?? "");
    this.deliveries.set(task.token, ids);
    if (first) {
      this.stats.received += 1;
      this.bodies.set(task.token, m.Body ?? "");
      if (this.#rng.chance(this.#faults.poison)) {
        this.#poison.add(task.token);
        this.stats.poisoned += 1;
      }
    }
    if (this.#ran.has(task.token)) return true; // the same dispatch again: it already ran
    if (this.#poison.has(task.token) || this.#rng.chance(this.#faults.crash)) {
      this.stats.crashes += 1;
      return false;
    }
    this.#ran.add(task.token);
    this.#schedule(this.#rng.int(0, 15), () => this.#report(task));
    return true;
  }

  /** Task messages the task queue dead-lettered since the last call: a person takes them out (their tokens). */
  async drainDeadLetters(): Promise<string[]> {
    if (this.#dlqUrl === undefined) return [];
    const tokens: string[] = [];
    for (;;) {
      const res = await this.#sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.#dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      const messages = res.Messages ?? [];
      if (messages.length === 0) return tokens;
      for (const m of messages) {
        const parsed = parseTaskMessage(m.Body ?? "");
        if (parsed.ok) tokens.push(parsed.message.token);
      }
      await this.#sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#dlqUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
        }),
      );
    }
  }

  #report(task: TaskMessage): void {
    const failure = task.attempt >= 3 ? 0 : task.attempt === 2 ? 0.1 : 0.15;
    const fails = this.#rng.chance(failure);
    const report: Record<string, unknown> = {
      ...(fails
        ? taskReport(task, {
            ok: false,
            description: `simulated failure of ${task.task} (attempt ${task.attempt})`,
          })
        : taskReport(task, { ok: true })),
    };
    // A report cannot change a stack's inputs: metadata on it must be ignored.
    if (this.#rng.chance(0.1)) report.metadata = { reportedBy: "satisfier", attempt: task.attempt };
    if (fails) this.stats.errors += 1;
    else this.stats.completed += 1;
    this.#events.publish(report);
    if (this.#rng.chance(0.1)) {
      this.stats.lateDuplicates += 1;
      this.#schedule(this.#rng.int(5, 60), () => this.#events.publish(report));
    }
    // The same dispatch reported the other way later: a timed-out run that did finish (applied
    // when the task is still in ERROR), or an error after completion (ignored).
    if (this.#rng.chance(0.05)) {
      const other = fails
        ? taskReport(task, { ok: true })
        : taskReport(task, { ok: false, description: "late" });
      if (fails) this.stats.lateCompletions += 1;
      else this.stats.lateErrors += 1;
      this.#schedule(this.#rng.int(5, 60), () =>
        this.#events.publish(other as unknown as Record<string, unknown>),
      );
    }
    if (fails && this.#rng.chance(0.7)) {
      this.stats.operatorRetries += 1;
      const retry: Record<string, unknown> = {
        stackId: task.stackId,
        event: "RETRY_FAILED_TASKS",
        eventId: crypto.randomUUID(),
      };
      if (this.#rng.chance(0.3)) retry.metadata = operatorMetadata(this.#rng);
      this.#schedule(this.#rng.int(0, 30), () => this.#events.publish(retry));
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

/** Metadata an operator adds to a retry (retries merge metadata when applied). */
export function operatorMetadata(rng: Rng): Record<string, Scalar> {
  return rng.chance(0.5)
    ? { retriedBy: rng.pick(["ops", "on-call"]) }
    : { note: rng.pick(["retry", "again"]) };
}
