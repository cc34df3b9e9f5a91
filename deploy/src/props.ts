// The parameters of a Stackseam deployment and their defaults. Every parameter can come from
// `cdk deploy -c name=value` (see context.ts) or from code that builds StackseamStack itself.
import type { StackProps } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type { VerifiedRelease } from "./release.js";

/** How one function consumes its queue. */
export interface ConsumerSettings {
  timeoutSeconds: number;
  memoryMb: number;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** Event source mapping MaximumConcurrency (2–1000): caps invocations, hence database connections. */
  maxConcurrency: number;
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: number;
}

/** Bring your own Postgres: a Secrets Manager secret in the RDS shape {username, password, host, port, dbname}. */
export interface ExistingDatabase {
  kind: "secret";
  /** The secret's complete ARN (with its six-character suffix). */
  secretArn: string;
  /** POSTGRES_SSL: `require` (TLS, default), `verify` (TLS with the RDS CA bundle) or `disable`. */
  ssl?: "disable" | "require" | "verify";
}

/** An Aurora Serverless v2 (PostgreSQL) cluster behind RDS Proxy, created in the given VPC. */
export interface AuroraDatabase {
  kind: "aurora";
  minCapacity?: number;
  maxCapacity?: number;
  /** Security groups allowed to reach the proxy on 5432 (a bastion, for `stackseam migrate`). */
  adminSecurityGroupIds?: readonly string[];
}

/** Terraform executor settings. */
export interface TerraformSettings {
  /** TERRAFORM_STATE_BUCKET: the S3 backend bucket (state objects and `.tflock` lockfiles). */
  stateBucket: string;
  statePrefix?: string;
  /** Bucket of `source: {type: s3}` Terraform code, when tasks use S3 sources. */
  sourceBucket?: string;
  sourcePrefix?: string;
  /** A DynamoDB lock table, only for modules that still lock with `dynamodb_table`. */
  lockTable?: string;
  /** Layer providing /opt/bin/terraform (or tofu); sets TERRAFORM_BIN. */
  layerArn?: string;
  /** TERRAFORM_BIN when the layer puts the binary elsewhere, e.g. /opt/bin/tofu. */
  bin?: string;
}

/** Where the State Manager sends notifications (the code lands with the notifications issue). */
export interface NotificationTargets {
  topicArns?: readonly string[];
  eventBusArns?: readonly string[];
  webhookSecretArns?: readonly string[];
}

/**
 * The remote runner: ECS Fargate tasks the Task Satisfier starts (a task's `runner: {type: ecs}`).
 * Subnets and security groups travel in each task's spec, so only IAM is set here; the runner's own
 * task role needs s3:GetObject on stackseam/runner-messages/ in the state bucket.
 */
export interface EcsRunnerSettings {
  clusterArn: string;
  taskDefinitionArns: readonly string[];
  /** Task and execution roles of those task definitions (iam:PassRole to ecs-tasks only). */
  passRoleArns: readonly string[];
}

/** Everything a deployment is made of. */
export interface StackseamProps extends StackProps {
  release: VerifiedRelease;
  /** Prefix of every physical name (queues, functions, alarms, dashboard). */
  prefix?: string;
  architecture?: "x86_64" | "arm64";
  /** Key prefix of the machine specs in the spec bucket (MACHINE_S3_KEY). */
  specPrefix?: string;
  database: ExistingDatabase | AuroraDatabase;
  /** The VPC the State Manager (and tick) run in; required with Aurora or a private database. */
  vpc?: ec2.IVpc;
  /** Or the id of one to look up (`cdk deploy` needs credentials for the lookup). */
  vpcId?: string;
  vpcSubnets?: ec2.SubnetSelection;
  /** Or subnet ids of the VPC (default: its private subnets, else its isolated ones). */
  subnetIds?: readonly string[];
  /** Create the S3 gateway and SQS/Secrets Manager interface endpoints (turn off when the VPC has NAT or its own). */
  vpcEndpoints?: boolean;
  stateManager?: Partial<ConsumerSettings> & { poolMax?: number; cacheTtlSeconds?: number };
  taskSatisfier?: Partial<ConsumerSettings> & {
    ephemeralStorageMb?: number;
    deadlineMarginMs?: number;
    /** Run it in the VPC too (it then needs a NAT gateway to download Terraform providers). */
    inVpc?: boolean;
  };
  /** The timer tick: "auto" deploys it when the State Manager zip exports `tick`. */
  tick?: {
    enabled?: boolean | "auto";
    reservedConcurrency?: number;
    timeoutSeconds?: number;
    memoryMb?: number;
  };
  terraform?: TerraformSettings;
  /** Functions lambda tasks may invoke: names, `name:qualifier`, `name:*` or ARNs of those forms. */
  invokeTargets?: readonly string[];
  notifications?: NotificationTargets;
  ecsRunner?: EcsRunnerSettings;
  alarms?: { email?: string; eventAgeSeconds?: number; taskAgeSeconds?: number };
  logRetentionDays?: number;
  /** Create the event source mappings disabled: first deployment, before `stackseam migrate`. */
  paused?: boolean;
}

/**
 * Defaults. Architecture and memory follow docs/performance.md: it measured the zips on x86-64,
 * the State Manager peaking at 105 MB RSS with a 128 MB-sized heap (512 MB buys cold-start CPU, as in
 * docs/deployment.md); the Task Satisfier's memory and /tmp are for Terraform and its providers.
 */
export const DEFAULTS = {
  prefix: "stackseam",
  architecture: "x86_64",
  specPrefix: "machines/",
  stateManager: {
    timeoutSeconds: 60,
    memoryMb: 512,
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 10,
    maxReceiveCount: 5,
  },
  taskSatisfier: {
    timeoutSeconds: 900,
    memoryMb: 2048,
    ephemeralStorageMb: 4096,
    batchSize: 1,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 20,
    maxReceiveCount: 5,
  },
  tick: { timeoutSeconds: 60, memoryMb: 512, reservedConcurrency: 2 },
  alarms: { eventAgeSeconds: 300, taskAgeSeconds: 1800 },
  aurora: { minCapacity: 0.5, maxCapacity: 4 },
  logRetentionDays: 30,
} as const;
