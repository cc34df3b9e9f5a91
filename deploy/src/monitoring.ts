// Alarms that say the system needs a person, all to one SNS topic, and a dashboard of the same figures.
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

/** What to watch. */
export interface MonitoringProps {
  prefix: string;
  email?: string;
  queues: Array<{ label: string; queue: sqs.IQueue; deadLetterQueue: sqs.IQueue; maxAgeSeconds: number }>;
  functions: Array<{ label: string; fn: lambda.IFunction }>;
  /** The tick function and its schedule group (Scheduler metrics are per group). */
  tick?: { fn: lambda.IFunction; scheduleGroupName: string };
}

/** The alarm topic, one alarm per failure worth waking someone for, and the dashboard. */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, "AlarmTopic", {
      topicName: `${props.prefix}-alarms`,
      displayName: "Stackseam alarms",
      enforceSSL: true,
    });
    if (props.email !== undefined)
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    const action = new actions.SnsAction(this.topic);
    const alarm = (
      name: string,
      description: string,
      p: cloudwatch.CreateAlarmOptions & { metric: cloudwatch.IMetric },
    ) => {
      const a = new cloudwatch.Alarm(this, name, {
        alarmName: `${props.prefix}-${name}`,
        alarmDescription: description,
        ...p,
      });
      a.addAlarmAction(action);
      this.alarms.push(a);
      return a;
    };
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    for (const q of props.queues) {
      alarm(
        `${q.label}-dlq-not-empty`,
        `Messages reached the ${q.label} dead-letter queue: read them, fix the cause, redrive (docs/operations.md).`,
        {
          metric: q.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: oneMinute,
            statistic: "Maximum",
          }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      );
      alarm(
        `${q.label}-oldest-message-age`,
        `The oldest message on the ${q.label} queue is older than ${q.maxAgeSeconds} s: its consumer is failing, throttled or too slow.`,
        {
          metric: q.queue.metricApproximateAgeOfOldestMessage({ period: oneMinute, statistic: "Maximum" }),
          threshold: q.maxAgeSeconds,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 5,
          datapointsToAlarm: 5,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      );
    }
    for (const f of props.functions) {
      alarm(
        `${f.label}-errors`,
        `${f.label} invocations failed (a configuration error, an unreachable database, a crash): read its log.`,
        {
          metric: f.fn.metricErrors({ period: fiveMinutes, statistic: "Sum" }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      );
      alarm(
        `${f.label}-throttles`,
        `${f.label} invocations were throttled: raise the account's concurrency or lower MaximumConcurrency.`,
        {
          metric: f.fn.metricThrottles({ period: fiveMinutes, statistic: "Sum" }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      );
    }
    let tickWidgets: cloudwatch.IWidget[] = [];
    if (props.tick) {
      const invocations = props.tick.fn.metricInvocations({ period: fiveMinutes, statistic: "Sum" });
      alarm(
        "tick-not-running",
        "The tick has not run for 5 minutes: timers and stuck outbox rows are not being handled. Check the schedule.",
        {
          metric: invocations,
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: 1,
          // No data at all means no invocation at all.
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        },
      );
      const targetErrors = new cloudwatch.Metric({
        namespace: "AWS/Scheduler",
        metricName: "TargetErrorCount",
        dimensionsMap: { ScheduleGroup: props.tick.scheduleGroupName },
        period: fiveMinutes,
        statistic: "Sum",
      });
      alarm(
        "tick-schedule-failures",
        "EventBridge Scheduler could not invoke the tick (permissions, throttling, a deleted function).",
        {
          metric: targetErrors,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      );
      tickWidgets = [
        new cloudwatch.GraphWidget({
          title: "Tick: invocations, errors, scheduler failures",
          left: [invocations, props.tick.fn.metricErrors({ period: fiveMinutes }), targetErrors],
          width: 12,
        }),
      ];
    }

    // Messages received per period, divided by the period: a rate whatever zoom the graph has.
    const perSecond = (queue: sqs.IQueue, label: string, id: string) =>
      new cloudwatch.MathExpression({
        expression: `${id} / PERIOD(${id})`,
        usingMetrics: { [id]: queue.metricNumberOfMessagesReceived({ statistic: "Sum" }) },
        label,
        period: oneMinute,
      });
    const [events, tasks] = props.queues;
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: `${props.prefix}`,
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: "Events/s and tasks/s",
            left: [
              ...(events ? [perSecond(events.queue, "events/s", "events")] : []),
              ...(tasks ? [perSecond(tasks.queue, "tasks/s", "tasks")] : []),
            ],
            width: 12,
          }),
          new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: this.alarms, width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: "Oldest message (s)",
            left: props.queues.map((q) => q.queue.metricApproximateAgeOfOldestMessage({ label: q.label })),
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "Messages waiting",
            left: props.queues.map((q) =>
              q.queue.metricApproximateNumberOfMessagesVisible({ label: q.label }),
            ),
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: "Dead-letter queues",
            left: props.queues.map((q) =>
              q.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: `${q.label} DLQ` }),
            ),
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: "Function errors and throttles",
            left: props.functions.flatMap((f) => [
              f.fn.metricErrors({ label: `${f.label} errors` }),
              f.fn.metricThrottles({ label: `${f.label} throttles` }),
            ]),
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: "Function duration p95 (ms)",
            left: props.functions.map((f) => f.fn.metricDuration({ statistic: "p95", label: f.label })),
            width: 12,
          }),
        ],
        tickWidgets,
      ],
    });
  }
}
