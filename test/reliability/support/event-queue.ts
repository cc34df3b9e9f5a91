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
  /**
   * The redrive policy's maxReceiveCount: a message received this many times is moved to the
   * dead-letter queue instead of being delivered again, as SQS does.
   */
  maxReceiveCount: number;
}

/** The maxReceiveCount of the suite's queues: small, so that a wedge shows up within one run. */
export const MAX_RECEIVE_COUNT = 3;

export const HOSTILE: QueueBehaviour = {
  inFlightRedelivery: 0.08,
  redeliveryAfterAck: 0.15,
  maxDelayTicks: 40,
  maxReceiveCount: MAX_RECEIVE_COUNT,
};

/** One SQS message: however many copies are in flight, it has one receive count. */
interface Message {
  messageId: string;
  body: string;
  key: string;
  stackId: string | null;
  receives: number;
  deadLettered: boolean;
}

interface Delivery {
  messageId: string;
  body: string;
  key: string;
  stackId: string | null;
  visibleAt: number;
  /** The message's receive count when this copy was handed out. */
  receiveCount: number;
  message: Message;
}

/** A message the queue gave up on (its receive count reached maxReceiveCount). */
export interface DeadLetter {
  messageId: string;
  body: string;
  key: string;
  stackId: string | null;
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
  /** Messages moved to the dead-letter queue (maxReceiveCount reached). */
  deadLettered: number;
  /** Dead-lettered messages a person moved back to the queue (as new messages). */
  redriven: number;
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
    deadLettered: 0,
    redriven: 0,
  };
  /** Keys of redriven messages without an eventId → the key they were redriven under. */
  readonly redrivenAs = new Map<string, string>();
  /** The dead-letter queue, oldest first. */
  readonly deadLetters: DeadLetter[] = [];
  /** While held, returned records stay invisible (see hold()). */
  #held: Delivery[] | null = null;

  constructor(rng: Rng, behaviour: QueueBehaviour = HOSTILE) {
    this.#rng = rng;
    this.#behaviour = behaviour;
  }

  /** Publishes a body; `copies` > 1 sends it again as new SQS messages (a publisher retrying). */
  publish(message: Record<string, unknown>, copies = 1): void {
    const body = JSON.stringify(message);
    for (let i = 0; i < copies; i++) {
      if (i > 0) this.stats.publisherDuplicates += 1;
      this.#publishBody(body, message);
    }
  }

  /** Puts one new SQS message on the queue; returns its key. */
  #publishBody(body: string, message: Record<string, unknown>): string {
    const stackId = typeof message.stackId === "string" ? message.stackId : null;
    const messageId = randomUUID();
    const key = typeof message.eventId === "string" ? message.eventId : messageId;
    if (!this.#seenKeys.has(key)) {
      this.#seenKeys.add(key);
      this.stats.keys += 1;
    }
    this.stats.messages += 1;
    this.bodies.set(messageId, body);
    const shared: Message = { messageId, body, key, stackId, receives: 0, deadLettered: false };
    this.#waiting.push({
      messageId,
      body,
      key,
      stackId,
      visibleAt: this.#tick + this.#delay(3),
      receiveCount: 0,
      message: shared,
    });
    return key;
  }

  #delay(max = this.#behaviour.maxDelayTicks): number {
    return this.#rng.int(0, max);
  }

  #requeue(d: Delivery, delay: number): void {
    if (this.#held) this.#held.push(d);
    else this.#waiting.push({ ...d, visibleAt: this.#tick + delay });
  }

  /**
   * Until release(), returned records stay invisible: an outage shorter than a visibility timeout
   * (a Postgres restart takes seconds; a deployment's visibility timeout is minutes) fails each
   * record in flight at most once, however fast the harness's clock runs meanwhile.
   */
  hold(): void {
    this.#held ??= [];
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const d of held) this.#requeue(d, this.#delay());
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
      if (d.message.deadLettered) continue;
      if (d.message.receives >= this.#behaviour.maxReceiveCount) {
        // The redrive policy: moved to the dead-letter queue instead of being delivered again.
        d.message.deadLettered = true;
        this.stats.deadLettered += 1;
        this.deadLetters.push({ messageId: d.messageId, body: d.body, key: d.key, stackId: d.stackId });
        continue;
      }
      d.message.receives += 1;
      d.receiveCount = d.message.receives;
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
      } else if (d.message.receives < 4 && this.#rng.chance(this.#behaviour.redeliveryAfterAck)) {
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

  /**
   * A person empties the dead-letter queue: `redrive` says which messages go back to the queue
   * (as new messages, with new message ids, as SQS's redrive does); the others are deleted.
   * Returns the redriven ones.
   */
  drainDeadLetters(redrive: (d: DeadLetter) => boolean): DeadLetter[] {
    const back: DeadLetter[] = [];
    for (const d of this.deadLetters.splice(0)) {
      if (!redrive(d)) continue;
      back.push(d);
      this.stats.redriven += 1;
      const key = this.#publishBody(d.body, JSON.parse(d.body) as Record<string, unknown>);
      // Without an eventId the key was the old message id: the event now goes by the new one.
      if (key !== d.key) this.redrivenAs.set(d.key, key);
    }
    return back;
  }

  /** Messages not yet deleted: waiting (visible or delayed), in flight or held (not dead-lettered). */
  get outstanding(): number {
    return this.#waiting.length + this.#inFlight + (this.#held?.length ?? 0);
  }
}

export type { Delivery };

/** The SQS record Lambda would pass for a delivery. */
export function toRecord(d: Omit<Delivery, "message">): SQSRecord {
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
