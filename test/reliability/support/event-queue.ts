import { randomUUID } from "node:crypto";
import type { SQSRecord } from "aws-lambda";
import type { Rng } from "./random.js";

/** How hostile the simulated event queue is; probabilities per delivery. */
export interface QueueBehaviour {
  /** A delivered message is also handed to another receiver while still in flight (visibility expired early). */
  inFlightRedelivery: number;
  /** A processed message comes back anyway (its delete was lost or came after the visibility timeout). */
  redeliveryAfterAck: number;
  /** Receives a visibility-timeout-like delay (in receive ticks) before a returned message shows again. */
  maxDelayTicks: number;
}

export const HOSTILE: QueueBehaviour = {
  inFlightRedelivery: 0.08,
  redeliveryAfterAck: 0.15,
  maxDelayTicks: 40,
};

interface Delivery {
  messageId: string;
  body: string;
  key: string;
  stackId: string | null;
  visibleAt: number;
  receiveCount: number;
}

export interface QueueStats {
  /** Distinct SQS messages put on the queue (publisher duplicates included). */
  messages: number;
  /** Distinct event keys (eventId, else message id). */
  keys: number;
  /** Records handed to workers. */
  deliveries: number;
  /** Deliveries of a key that had been delivered before: the duplicates the engine must absorb. */
  duplicateDeliveries: number;
  publisherDuplicates: number;
  redeliveredInFlight: number;
  redeliveredAfterAck: number;
  returnedAsFailed: number;
  abandoned: number;
}

/**
 * An SQS standard queue as an adversary, in memory: batches are random picks among visible
 * messages (reordering across batches) in random order (reordering within a batch), messages
 * come back while in flight or after they were processed, failed and abandoned records return
 * after a delay. The engine may assume nothing SQS does not promise. Time is counted in receive
 * calls ("ticks"), so no behaviour depends on the wall clock.
 */
export class EventQueue {
  readonly #rng: Rng;
  readonly #behaviour: QueueBehaviour;
  #tick = 0;
  #waiting: Delivery[] = [];
  #inFlight = 0;
  /** Every message body ever published, by SQS message id (the model check parses them again). */
  readonly bodies = new Map<string, string>();
  readonly #seenKeys = new Set<string>();
  readonly #deliveredKeys = new Set<string>();
  readonly stats: QueueStats = {
    messages: 0,
    keys: 0,
    deliveries: 0,
    duplicateDeliveries: 0,
    publisherDuplicates: 0,
    redeliveredInFlight: 0,
    redeliveredAfterAck: 0,
    returnedAsFailed: 0,
    abandoned: 0,
  };

  constructor(rng: Rng, behaviour: QueueBehaviour = HOSTILE) {
    this.#rng = rng;
    this.#behaviour = behaviour;
  }

  /** Publishes a body; `copies` > 1 sends it again as new SQS messages (a publisher retrying). */
  publish(message: Record<string, unknown>, copies = 1): void {
    const body = JSON.stringify(message);
    const stackId = typeof message.stackId === "string" ? message.stackId : null;
    for (let i = 0; i < copies; i++) {
      const messageId = randomUUID();
      const key = typeof message.eventId === "string" ? message.eventId : messageId;
      if (!this.#seenKeys.has(key)) {
        this.#seenKeys.add(key);
        this.stats.keys += 1;
      }
      if (i > 0) this.stats.publisherDuplicates += 1;
      this.stats.messages += 1;
      this.bodies.set(messageId, body);
      this.#waiting.push({
        messageId,
        body,
        key,
        stackId,
        visibleAt: this.#tick + this.#delay(3),
        receiveCount: 0,
      });
    }
  }

  #delay(max = this.#behaviour.maxDelayTicks): number {
    return this.#rng.int(0, max);
  }

  #requeue(d: Delivery, delay: number): void {
    this.#waiting.push({ ...d, visibleAt: this.#tick + delay });
  }

  /** Up to `max` visible messages in random order, now in flight; [] when none is visible. */
  receive(max: number): Delivery[] {
    this.#tick += 1;
    const batch: Delivery[] = [];
    const attempts = Math.min(this.#waiting.length, max * 6);
    for (let a = 0; a < attempts && batch.length < max && this.#waiting.length > 0; a++) {
      const i = this.#rng.int(0, this.#waiting.length - 1);
      const d = this.#waiting[i] as Delivery;
      if (d.visibleAt > this.#tick) continue;
      this.#waiting[i] = this.#waiting[this.#waiting.length - 1] as Delivery;
      this.#waiting.pop();
      d.receiveCount += 1;
      batch.push(d);
      this.stats.deliveries += 1;
      if (this.#deliveredKeys.has(d.key)) this.stats.duplicateDeliveries += 1;
      else this.#deliveredKeys.add(d.key);
      if (this.#rng.chance(this.#behaviour.inFlightRedelivery)) {
        this.stats.redeliveredInFlight += 1;
        this.#requeue(d, this.#delay(4));
      }
    }
    this.#inFlight += batch.length;
    return this.#rng.shuffle(batch);
  }

  /** A batch's outcome: failed records come back; processed ones are deleted, or now and then come back anyway. */
  settle(batch: readonly Delivery[], failed: ReadonlySet<string>): void {
    this.#inFlight -= batch.length;
    for (const d of batch) {
      if (failed.has(d.messageId)) {
        this.stats.returnedAsFailed += 1;
        this.#requeue(d, this.#delay());
      } else if (d.receiveCount < 4 && this.#rng.chance(this.#behaviour.redeliveryAfterAck)) {
        this.stats.redeliveredAfterAck += 1;
        this.#requeue(d, this.#delay());
      }
    }
  }

  /** A worker died holding the batch: every record shows again after its visibility timeout. */
  abandon(batch: readonly Delivery[]): void {
    this.#inFlight -= batch.length;
    this.stats.abandoned += batch.length;
    for (const d of batch) this.#requeue(d, this.#delay());
  }

  /** Messages not yet deleted: waiting (visible or delayed) or in flight. */
  get outstanding(): number {
    return this.#waiting.length + this.#inFlight;
  }
}

export type { Delivery };

/** The SQS record Lambda would pass for a delivery. */
export function toRecord(d: Delivery): SQSRecord {
  return {
    messageId: d.messageId,
    receiptHandle: `rh-${d.messageId}-${d.receiveCount}`,
    body: d.body,
    attributes: {
      ApproximateReceiveCount: String(d.receiveCount),
      SentTimestamp: "0",
      SenderId: "reliability",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:stackseam-events",
    awsRegion: "us-east-1",
  };
}
