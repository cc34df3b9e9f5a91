// A consumed queue and its dead-letter queue, with the visibility timeout derived from the consumer.
import { Duration } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { ConsumerSettings } from "./props.js";
import { visibilityTimeoutSeconds } from "./timeouts.js";

/** A queue consumed by one function, redriving to its DLQ after `maxReceiveCount` receives. */
export class ConsumedQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: { name: string; consumer: ConsumerSettings }) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      queueName: `${props.name}-dlq`,
      // The longest SQS allows: time to read what landed there before redriving it.
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, "Queue", {
      queueName: props.name,
      visibilityTimeout: Duration.seconds(
        visibilityTimeoutSeconds(props.consumer.timeoutSeconds, props.consumer.maxBatchingWindowSeconds),
      ),
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.consumer.maxReceiveCount },
    });
  }
}
