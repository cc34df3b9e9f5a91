// The whole system in one stack: queues, spec bucket, database, the functions and their event
// source mappings, the tick schedule, alarms and dashboard. Roles come from iam-policies/ only.
import { Aws, CfnOutput, Duration, RemovalPolicy, Size, Stack, Token } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import * as targets from "aws-cdk-lib/aws-scheduler-targets";
import type { Construct } from "constructs";
import { AuroraWithProxy } from "./database.js";
import { DeployConfigError } from "./errors.js";
import { invokeResourceArn, parseInvokeTarget } from "./invoke-targets.js";
import { Monitoring } from "./monitoring.js";
import { acknowledgeFindings } from "./nag.js";
import { FunctionNetwork } from "./network.js";
import { inlinePolicies } from "./policies.js";
import { type ConsumerSettings, DEFAULTS, type StackseamProps } from "./props.js";
import { ConsumedQueue } from "./queues.js";
import { scripts } from "./repo.js";

/** Physical names derived from the prefix; the IAM templates scope log groups by function name. */
export function resourceNames(prefix: string) {
  return {
    eventQueue: `${prefix}-events`,
    taskQueue: `${prefix}-tasks`,
    stateManager: `${prefix}-state-manager`,
    // iam-policies/state-manager.json grants this log group to the State Manager's role.
    tick: `${prefix}-state-manager-tick`,
    taskSatisfier: `${prefix}-task-satisfier`,
    scheduleGroup: `${prefix}-tick`,
  };
}

/** Checks parameters that depend on each other; every problem at once. */
function problemsOf(props: StackseamProps, tickWanted: boolean): string[] {
  const problems: string[] = [];
  const hasVpc = props.vpc !== undefined || props.vpcId !== undefined;
  if (props.database.kind === "aurora" && !hasVpc) problems.push("database: Aurora needs a VPC (vpcId)");
  if (props.taskSatisfier?.inVpc && !hasVpc) problems.push("taskSatisfierInVpc needs a VPC (vpcId)");
  if (props.subnetIds !== undefined && props.vpcSubnets !== undefined)
    problems.push("give subnetIds or vpcSubnets, not both");
  if (props.tick?.enabled === true && !tickWanted)
    problems.push(
      `tick: the State Manager zip of release ${props.release.version} does not export tick (it exports ${props.release.zips["state-manager"].exports.join(", ")})`,
    );
  if (props.ecsRunner !== undefined && props.terraform === undefined)
    problems.push(
      "ecsClusterArn: the remote runner needs terraformStateBucket (it also carries large task messages)",
    );
  if (props.database.kind === "secret" && !/^arn:aws[a-z-]*:secretsmanager:/.test(props.database.secretArn))
    problems.push(
      `databaseSecretArn must be a Secrets Manager secret ARN, got ${JSON.stringify(props.database.secretArn)}`,
    );
  for (const t of props.invokeTargets ?? []) {
    const parsed = parseInvokeTarget(t);
    if (typeof parsed === "string") problems.push(parsed);
  }
  const values: Record<string, string | undefined> = {
    TF_STATE_BUCKET: props.terraform?.stateBucket,
    TF_SOURCE_BUCKET: props.terraform?.sourceBucket,
  };
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || Token.isUnresolved(value)) continue;
    const p = scripts.render.checkValue(name, value);
    if (p !== null) problems.push(p);
  }
  return problems;
}

/** One Stackseam deployment. */
export class StackseamStack extends Stack {
  readonly eventQueue: ConsumedQueue;
  readonly taskQueue: ConsumedQueue;
  readonly specBucket: s3.Bucket;
  readonly stateManager: lambda.Function;
  readonly taskSatisfier: lambda.Function;
  readonly tick: lambda.Function | undefined;
  readonly monitoring: Monitoring;
  readonly databaseSecretArn: string;

  constructor(scope: Construct, id: string, props: StackseamProps) {
    super(scope, id, props);
    const prefix = props.prefix ?? DEFAULTS.prefix;
    const names = resourceNames(prefix);
    const sm: ConsumerSettings = { ...DEFAULTS.stateManager, ...defined(props.stateManager) };
    const ts: ConsumerSettings = { ...DEFAULTS.taskSatisfier, ...defined(props.taskSatisfier) };
    const tickExported = props.release.zips["state-manager"].exports.includes("tick");
    const tickOn = props.tick?.enabled === false ? false : tickExported;
    const problems = problemsOf(props, tickExported);
    if (problems.length > 0) throw new DeployConfigError(problems);
    const architecture =
      props.architecture === "arm64" ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
    const specPrefix = props.specPrefix ?? DEFAULTS.specPrefix;
    const retention = props.logRetentionDays ?? DEFAULTS.logRetentionDays;

    // Queues: each visibility timeout is computed from its consumer's timeout and batching window.
    this.eventQueue = new ConsumedQueue(this, "EventQueue", { name: names.eventQueue, consumer: sm });
    this.taskQueue = new ConsumedQueue(this, "TaskQueue", { name: names.taskQueue, consumer: ts });

    // Machine specs: `stackseam specs push <dir> --bucket <SpecBucketName> --prefix <SpecPrefix>`.
    const accessLogs = new s3.Bucket(this, "AccessLogBucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.specBucket = new s3.Bucket(this, "SpecBucket", {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // A cast only for exactOptionalPropertyTypes against aws-cdk-lib's declarations.
      serverAccessLogsBucket: accessLogs as s3.IBucket,
      serverAccessLogsPrefix: "spec-bucket/",
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Network: the State Manager and the tick run in the VPC when there is one.
    const vpc =
      props.vpc ??
      (props.vpcId !== undefined ? ec2.Vpc.fromLookup(this, "Vpc", { vpcId: props.vpcId }) : undefined);
    const subnets =
      props.vpcSubnets ??
      (props.subnetIds !== undefined
        ? { subnetFilters: [ec2.SubnetFilter.byIds([...props.subnetIds])] }
        : undefined);
    const network =
      vpc === undefined
        ? undefined
        : new FunctionNetwork(this, "Network", {
            vpc,
            ...(subnets !== undefined ? { subnets } : {}),
            endpoints: props.vpcEndpoints ?? true,
            interfaceServices: ["sqs", "secretsmanager"],
          });

    // Database.
    let dbSecretArn: string;
    let ssl: string;
    let aurora: AuroraWithProxy | undefined;
    if (props.database.kind === "aurora") {
      if (!network) throw new DeployConfigError(["database: Aurora needs a VPC (vpcId)"]);
      aurora = new AuroraWithProxy(this, "Database", {
        ...props.database,
        prefix,
        vpc: network.vpc,
        subnets: network.subnets,
        clients: network.securityGroup,
        minCapacity: props.database.minCapacity ?? DEFAULTS.aurora.minCapacity,
        maxCapacity: props.database.maxCapacity ?? DEFAULTS.aurora.maxCapacity,
      });
      dbSecretArn = aurora.connectionSecret.secretArn;
      // RDS Proxy presents an ACM certificate for its own host name: verifiable.
      ssl = "verify";
    } else {
      dbSecretArn = props.database.secretArn;
      ssl = props.database.ssl ?? "require";
    }
    this.databaseSecretArn = dbSecretArn;

    // IAM: the same templates as a manual deployment, filled with this stack's resources.
    const partition = Aws.PARTITION;
    const invokeArns = (props.invokeTargets ?? []).map((t) => {
      const parsed = parseInvokeTarget(t);
      if (typeof parsed === "string") throw new DeployConfigError([parsed]);
      return invokeResourceArn(parsed, { partition, region: this.region, account: this.account });
    });
    const tf = props.terraform;
    const values: Record<string, string> = {
      REGION: this.region,
      ACCOUNT_ID: this.account,
      EVENT_QUEUE_ARN: this.eventQueue.queue.queueArn,
      TASK_QUEUE_ARN: this.taskQueue.queue.queueArn,
      SPEC_BUCKET: this.specBucket.bucketName,
      SPEC_PREFIX: specPrefix,
      DB_SECRET_ARN: dbSecretArn,
      STATE_MANAGER_FUNCTION_NAME: names.stateManager,
      TASK_SATISFIER_FUNCTION_NAME: names.taskSatisfier,
      ...(tf ? { TF_STATE_BUCKET: tf.stateBucket, TF_STATE_PREFIX: tf.statePrefix ?? "" } : {}),
      ...(tf?.sourceBucket !== undefined
        ? { TF_SOURCE_BUCKET: tf.sourceBucket, TF_SOURCE_PREFIX: tf.sourcePrefix ?? "" }
        : {}),
      ...(tf?.lockTable !== undefined ? { TF_LOCK_TABLE: tf.lockTable } : {}),
      ...(invokeArns.length > 0 ? { FUNCTION_ARNS: invokeArns.join(",") } : {}),
      ...listValue("NOTIFICATION_TOPIC_ARNS", props.notifications?.topicArns),
      ...listValue("EVENT_BUS_ARNS", props.notifications?.eventBusArns),
      ...listValue("WEBHOOK_SECRET_ARNS", props.notifications?.webhookSecretArns),
      ...(props.ecsRunner
        ? {
            ECS_CLUSTER_ARN: props.ecsRunner.clusterArn,
            ECS_TASK_DEFINITION_ARNS: props.ecsRunner.taskDefinitionArns.join(","),
            ECS_PASS_ROLE_ARNS: props.ecsRunner.passRoleArns.join(","),
            // Task messages too big for an ECS container override travel through the state bucket.
            ...(tf ? { RUNNER_MESSAGE_BUCKET: tf.stateBucket } : {}),
          }
        : {}),
    };
    const smPolicies = [
      "state-manager",
      ...(network ? ["lambda-vpc"] : []),
      ...(props.notifications?.topicArns?.length ? ["state-manager-sns"] : []),
      ...(props.notifications?.eventBusArns?.length ? ["state-manager-eventbridge"] : []),
      ...(props.notifications?.webhookSecretArns?.length ? ["state-manager-webhook-secrets"] : []),
    ];
    const tsInVpc = network !== undefined && props.taskSatisfier?.inVpc === true;
    const tsPolicies = [
      "task-satisfier",
      ...(tsInVpc ? ["lambda-vpc"] : []),
      ...(tf ? ["task-satisfier-terraform"] : []),
      ...(tf?.sourceBucket !== undefined ? ["task-satisfier-terraform-sources"] : []),
      ...(tf?.lockTable !== undefined ? ["task-satisfier-terraform-dynamodb-lock"] : []),
      ...(invokeArns.length > 0 ? ["task-satisfier-lambda"] : []),
      ...(props.ecsRunner ? ["task-satisfier-ecs"] : []),
    ];
    const lambdaPrincipal = new iam.ServicePrincipal("lambda.amazonaws.com");
    const smRole = new iam.Role(this, "StateManagerRole", {
      assumedBy: lambdaPrincipal,
      description: "Stackseam State Manager and tick (iam-policies/state-manager*.json)",
      inlinePolicies: inlinePolicies(smPolicies, values),
    });
    const tsRole = new iam.Role(this, "TaskSatisfierRole", {
      assumedBy: lambdaPrincipal,
      description: "Stackseam Task Satisfier (iam-policies/task-satisfier*.json)",
      inlinePolicies: inlinePolicies(tsPolicies, values),
    });

    // Functions.
    const smEnvironment: Record<string, string> = {
      SQS_TASK_QUEUE_URL: this.taskQueue.queue.queueUrl,
      SQS_EVENT_QUEUE_URL: this.eventQueue.queue.queueUrl,
      MACHINE_LOCATOR: "S3",
      MACHINE_S3_BUCKET: this.specBucket.bucketName,
      MACHINE_S3_KEY: specPrefix,
      POSTGRES_CONNECTION_SECRET: dbSecretArn,
      POSTGRES_SSL: ssl,
      ...(ssl === "verify" ? { NODE_EXTRA_CA_CERTS: "/var/runtime/ca-cert.pem" } : {}),
      ...(props.stateManager?.poolMax !== undefined
        ? { POSTGRES_POOL_MAX: String(props.stateManager.poolMax) }
        : {}),
      ...(props.stateManager?.cacheTtlSeconds !== undefined
        ? { MACHINE_CACHE_TTL_SECONDS: String(props.stateManager.cacheTtlSeconds) }
        : {}),
    };
    const smCode = lambda.Code.fromAsset(props.release.zips["state-manager"].path);
    const inVpc = network
      ? { vpc: network.vpc, vpcSubnets: network.subnets, securityGroups: [network.securityGroup] }
      : {};
    const logGroup = (id: string, name: string) =>
      new logs.LogGroup(this, id, {
        logGroupName: `/aws/lambda/${name}`,
        retention: retentionDays(retention),
        removalPolicy: RemovalPolicy.DESTROY,
      });
    this.stateManager = new lambda.Function(this, "StateManager", {
      functionName: names.stateManager,
      description: `Stackseam ${props.release.version} State Manager`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture,
      handler: "index.handler",
      code: smCode,
      role: smRole,
      timeout: Duration.seconds(sm.timeoutSeconds),
      memorySize: sm.memoryMb,
      environment: smEnvironment,
      logGroup: logGroup("StateManagerLogs", names.stateManager),
      ...inVpc,
    });
    const tsEnvironment: Record<string, string> = {
      SQS_EVENT_QUEUE_URL: this.eventQueue.queue.queueUrl,
      ...(tf?.layerArn !== undefined || tf?.bin !== undefined
        ? { TERRAFORM_BIN: tf.bin ?? "/opt/bin/terraform" }
        : {}),
      ...(tf ? { TERRAFORM_STATE_BUCKET: tf.stateBucket } : {}),
      ...(props.taskSatisfier?.deadlineMarginMs !== undefined
        ? { TERRAFORM_DEADLINE_MARGIN_MS: String(props.taskSatisfier.deadlineMarginMs) }
        : {}),
    };
    this.taskSatisfier = new lambda.Function(this, "TaskSatisfier", {
      functionName: names.taskSatisfier,
      description: `Stackseam ${props.release.version} Task Satisfier`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture,
      handler: "index.handler",
      code: lambda.Code.fromAsset(props.release.zips["task-satisfier"].path),
      role: tsRole,
      timeout: Duration.seconds(ts.timeoutSeconds),
      memorySize: ts.memoryMb,
      ephemeralStorageSize: Size.mebibytes(
        props.taskSatisfier?.ephemeralStorageMb ?? DEFAULTS.taskSatisfier.ephemeralStorageMb,
      ),
      environment: tsEnvironment,
      logGroup: logGroup("TaskSatisfierLogs", names.taskSatisfier),
      ...(tf?.layerArn !== undefined
        ? { layers: [lambda.LayerVersion.fromLayerVersionArn(this, "TerraformLayer", tf.layerArn)] }
        : {}),
      ...(tsInVpc ? inVpc : {}),
    });

    // Event source mappings; no CDK grant: the roles already hold what iam-policies/ says.
    const consume = (id: string, fn: lambda.Function, queue: ConsumedQueue, c: ConsumerSettings) =>
      new lambda.EventSourceMapping(this, id, {
        target: fn,
        eventSourceArn: queue.queue.queueArn,
        batchSize: c.batchSize,
        maxBatchingWindow: Duration.seconds(c.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency: c.maxConcurrency,
        enabled: props.paused !== true,
      });
    consume("StateManagerEvents", this.stateManager, this.eventQueue, sm);
    consume("TaskSatisfierTasks", this.taskSatisfier, this.taskQueue, ts);

    // The tick: the State Manager's zip and role, another entry point, every minute.
    let scheduleGroupName: string | undefined;
    if (tickOn) {
      this.tick = new lambda.Function(this, "Tick", {
        functionName: names.tick,
        description: `Stackseam ${props.release.version} tick: due timers, stuck outbox rows`,
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture,
        handler: "index.tick",
        code: smCode,
        role: smRole,
        timeout: Duration.seconds(props.tick?.timeoutSeconds ?? DEFAULTS.tick.timeoutSeconds),
        memorySize: props.tick?.memoryMb ?? DEFAULTS.tick.memoryMb,
        // Overlapping ticks are safe (SKIP LOCKED) but pointless; this bounds the connections they use.
        reservedConcurrentExecutions: props.tick?.reservedConcurrency ?? DEFAULTS.tick.reservedConcurrency,
        environment: smEnvironment,
        logGroup: logGroup("TickLogs", names.tick),
        ...inVpc,
      });
      const group = new scheduler.ScheduleGroup(this, "TickScheduleGroup", {
        scheduleGroupName: names.scheduleGroup,
      });
      scheduleGroupName = names.scheduleGroup;
      new scheduler.Schedule(this, "TickSchedule", {
        description: "Stackseam tick: fires due timers and re-sends stuck outbox rows",
        schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
        scheduleGroup: group,
        enabled: props.paused !== true,
        // A missed tick is made up by the next one a minute later: no retries, no stale runs.
        target: new targets.LambdaInvoke(this.tick, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      });
    } else {
      this.tick = undefined;
    }

    this.monitoring = new Monitoring(this, "Monitoring", {
      prefix,
      ...(props.alarms?.email !== undefined ? { email: props.alarms.email } : {}),
      queues: [
        {
          label: "events",
          queue: this.eventQueue.queue,
          deadLetterQueue: this.eventQueue.deadLetterQueue,
          maxAgeSeconds: props.alarms?.eventAgeSeconds ?? DEFAULTS.alarms.eventAgeSeconds,
        },
        {
          label: "tasks",
          queue: this.taskQueue.queue,
          deadLetterQueue: this.taskQueue.deadLetterQueue,
          maxAgeSeconds: props.alarms?.taskAgeSeconds ?? DEFAULTS.alarms.taskAgeSeconds,
        },
      ],
      functions: [
        { label: "state-manager", fn: this.stateManager },
        { label: "task-satisfier", fn: this.taskSatisfier },
        ...(this.tick ? [{ label: "tick", fn: this.tick }] : []),
      ],
      ...(this.tick && scheduleGroupName ? { tick: { fn: this.tick, scheduleGroupName } } : {}),
    });

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output("EventQueueUrl", this.eventQueue.queue.queueUrl, "SQS_EVENT_QUEUE_URL for publishers and the CLI");
    output("EventQueueArn", this.eventQueue.queue.queueArn, "Grant publishers sqs:SendMessage on this");
    output("TaskQueueUrl", this.taskQueue.queue.queueUrl, "Task messages (read by the Task Satisfier)");
    output("SpecBucketName", this.specBucket.bucketName, "stackseam specs push --bucket");
    output("SpecPrefix", specPrefix, "stackseam specs push --prefix");
    output(
      "DatabaseSecretArn",
      dbSecretArn,
      "POSTGRES_CONNECTION_SECRET; build DATABASE_URL from it for stackseam migrate",
    );
    output("AlarmTopicArn", this.monitoring.topic.topicArn, "Subscribe to receive alarms");
    output("DashboardName", `${prefix}`, "CloudWatch dashboard");
    if (aurora) output("DatabaseProxyEndpoint", aurora.proxy.endpoint, "RDS Proxy endpoint (TLS required)");

    acknowledgeFindings(this, { aurora });
  }
}

function defined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function listValue(name: string, list: readonly string[] | undefined): Record<string, string> {
  return list && list.length > 0 ? { [name]: list.join(",") } : {};
}

/** CloudWatch Logs accepts only some retention periods; the nearest allowed one at or above `days`. */
function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays)
    .filter((v): v is logs.RetentionDays => typeof v === "number" && v > 0)
    .sort((a, b) => a - b);
  return allowed.find((v) => v >= days) ?? logs.RetentionDays.INFINITE;
}
