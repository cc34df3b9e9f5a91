// `cdk deploy -c name=value` → StackseamProps. Context values from the command line are strings;
// from cdk.json they may be JSON values: both are accepted.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Construct } from "constructs";
import { DeployConfigError } from "./errors.js";
import type { StackseamProps } from "./props.js";
import type { ReleaseSource } from "./release.js";
import { repoRoot } from "./repo.js";

/** Every context key the app reads, with what it sets (printed by the docs and by unknown-key errors). */
export const CONTEXT_KEYS = {
  stackName: "CloudFormation stack name (default Stackseam)",
  prefix: "prefix of every physical name (default stackseam)",
  releaseDir: "folder with the release zips and SHA256SUMS (default <checkout>/release)",
  version: "release version (default: the checkout's package.json version)",
  releaseKey: "public key file: check every signature, as npm run verify-release does",
  releaseFingerprint: "fingerprint the release key must have (with releaseKey)",
  architecture: "x86_64 (default) or arm64",
  specPrefix: "spec key prefix in the spec bucket (default machines/)",
  databaseSecretArn: "bring your own Postgres: complete ARN of a secret {username,password,host,port,dbname}",
  postgresSsl: "POSTGRES_SSL for your own database: require (default), verify or disable",
  aurora: "true: create Aurora Serverless v2 + RDS Proxy in the VPC",
  auroraMinCapacity: "Aurora Serverless v2 minimum ACUs (default 0.5)",
  auroraMaxCapacity: "Aurora Serverless v2 maximum ACUs (default 4)",
  adminSecurityGroupIds:
    "security groups allowed to the RDS Proxy on 5432 (a bastion, for stackseam migrate)",
  vpcId: "VPC of the State Manager and the database (looked up: needs credentials at synth)",
  subnetIds: "subnets for the functions and database (default: the VPC's private subnets)",
  vpcEndpoints: "false: do not create the S3/SQS/Secrets Manager endpoints (the VPC has NAT or its own)",
  taskSatisfierInVpc: "true: run the Task Satisfier in the VPC too (needs NAT for providers)",
  stateManagerTimeout: "State Manager timeout, seconds (default 60)",
  stateManagerMemory: "State Manager memory, MB (default 512)",
  stateManagerBatchSize: "event source mapping batch size (default 10)",
  stateManagerBatchingWindow: "event source mapping batching window, seconds (default 0)",
  stateManagerMaxConcurrency: "event source mapping maximum concurrency (default 10)",
  postgresPoolMax: "POSTGRES_POOL_MAX (default 3)",
  taskSatisfierTimeout: "Task Satisfier timeout, seconds (default 900)",
  taskSatisfierMemory: "Task Satisfier memory, MB (default 2048)",
  taskSatisfierEphemeralStorage: "Task Satisfier /tmp, MB (default 4096)",
  taskSatisfierBatchSize: "event source mapping batch size (default 1)",
  taskSatisfierMaxConcurrency: "event source mapping maximum concurrency (default 20)",
  deadlineMarginMs: "TERRAFORM_DEADLINE_MARGIN_MS",
  maxReceiveCount: "receives before a message goes to its DLQ (default 5)",
  tick: "auto (default: when the zip exports tick), true or false",
  tickReservedConcurrency: "reserved concurrency of the tick (default 2)",
  terraformStateBucket: "TERRAFORM_STATE_BUCKET: S3 backend bucket (state and .tflock lockfiles)",
  terraformStatePrefix: "key prefix of the states in that bucket (default: whole bucket)",
  terraformSourceBucket: "bucket of S3 Terraform sources",
  terraformSourcePrefix: "key prefix of those sources",
  terraformLockTable: "DynamoDB lock table, only for modules still using dynamodb_table",
  terraformLayerArn: "layer with /opt/bin/terraform",
  terraformBin: "TERRAFORM_BIN (default /opt/bin/terraform with a layer)",
  invokeTargets: "functions lambda tasks may invoke: name, name:qualifier, name:* or ARNs, comma-separated",
  notificationTopicArns: "SNS topics the State Manager may publish notifications to",
  eventBusArns: "EventBridge buses the State Manager may put notification events on",
  webhookSecretArns: "Secrets Manager secrets that sign webhook notifications",
  ecsClusterArn: "remote runner: ECS cluster the Task Satisfier runs Terraform tasks on",
  ecsTaskDefinitionArns: "remote runner: task definitions it may run",
  ecsPassRoleArns: "remote runner: task and execution roles it may pass",
  alarmEmail: "an e-mail address subscribed to the alarm topic",
  eventAgeAlarmSeconds: "alarm when the oldest event is older (default 300)",
  taskAgeAlarmSeconds: "alarm when the oldest task message is older (default 1800)",
  logRetentionDays: "log retention (default 30)",
  paused: "true: event source mappings and the tick schedule disabled (first deploy, before migrate)",
} as const;

type Key = keyof typeof CONTEXT_KEYS;

/** Reads the app's parameters from a construct's context; throws DeployConfigError listing every problem. */
export function propsFromContext(node: Construct["node"]): {
  stackName: string;
  release: ReleaseSource;
  props: Omit<StackseamProps, "release">;
} {
  const problems: string[] = [];
  const raw = (k: Key): unknown => node.tryGetContext(k);
  const str = (k: Key): string | undefined => {
    const v = raw(k);
    if (v === undefined || v === null || v === "") return undefined;
    return typeof v === "string" ? v.trim() : String(v);
  };
  const list = (k: Key): string[] | undefined => {
    const v = raw(k);
    if (v === undefined || v === null || v === "") return undefined;
    const items = Array.isArray(v) ? v.map(String) : String(v).split(",");
    const out = items.map((s) => s.trim()).filter((s) => s !== "");
    return out.length > 0 ? out : undefined;
  };
  const bool = (k: Key): boolean | undefined => {
    const v = raw(k);
    if (v === undefined || v === null || v === "") return undefined;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    problems.push(`${k} must be true or false, got ${JSON.stringify(v)}`);
    return undefined;
  };
  const num = (k: Key, min: number, max: number, integer = true): number | undefined => {
    const v = raw(k);
    if (v === undefined || v === null || v === "") return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      problems.push(
        `${k} must be a ${integer ? "whole " : ""}number from ${min} to ${max}, got ${JSON.stringify(v)}`,
      );
      return undefined;
    }
    return n;
  };
  const only = <T>(entries: Array<[string, T | undefined]>): Record<string, T> =>
    Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as Record<string, T>;

  const root = repoRoot();
  const version =
    str("version") ??
    (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  const releaseKey = str("releaseKey");
  const fingerprint = str("releaseFingerprint");
  if (fingerprint !== undefined && releaseKey === undefined)
    problems.push("releaseFingerprint needs releaseKey");
  const release: ReleaseSource = {
    dir: str("releaseDir") ?? join(root, "release"),
    version,
    ...(releaseKey !== undefined ? { publicKeyFile: releaseKey } : {}),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
  };

  const secretArn = str("databaseSecretArn");
  const aurora = bool("aurora");
  const ssl = str("postgresSsl");
  if (ssl !== undefined && !["disable", "require", "verify"].includes(ssl))
    problems.push(`postgresSsl must be disable, require or verify, got ${JSON.stringify(ssl)}`);
  let database: StackseamProps["database"] | undefined;
  if (secretArn !== undefined && aurora === true)
    problems.push("give databaseSecretArn or aurora=true, not both");
  else if (secretArn !== undefined)
    database = {
      kind: "secret",
      secretArn,
      ...(ssl !== undefined ? { ssl: ssl as "disable" | "require" | "verify" } : {}),
    };
  else if (aurora === true) {
    const admin = list("adminSecurityGroupIds");
    database = {
      kind: "aurora",
      ...only([
        ["minCapacity", num("auroraMinCapacity", 0, 256, false)],
        ["maxCapacity", num("auroraMaxCapacity", 1, 256, false)],
      ]),
      ...(admin ? { adminSecurityGroupIds: admin } : {}),
    };
  } else problems.push("no database: give databaseSecretArn=<secret ARN> or aurora=true (with vpcId)");

  const architecture = str("architecture");
  if (architecture !== undefined && architecture !== "x86_64" && architecture !== "arm64")
    problems.push(`architecture must be x86_64 or arm64, got ${JSON.stringify(architecture)}`);
  const tickRaw = str("tick");
  if (tickRaw !== undefined && !["auto", "true", "false"].includes(tickRaw))
    problems.push(`tick must be auto, true or false, got ${JSON.stringify(tickRaw)}`);

  const maxReceiveCount = num("maxReceiveCount", 1, 1000);
  const stateBucket = str("terraformStateBucket");
  const tfKeys: Key[] = [
    "terraformStatePrefix",
    "terraformSourceBucket",
    "terraformSourcePrefix",
    "terraformLockTable",
    "terraformLayerArn",
    "terraformBin",
  ];
  if (stateBucket === undefined) {
    for (const k of tfKeys) if (str(k) !== undefined) problems.push(`${k} needs terraformStateBucket`);
  }
  const ecsClusterArn = str("ecsClusterArn");
  const ecs =
    ecsClusterArn === undefined
      ? undefined
      : {
          clusterArn: ecsClusterArn,
          taskDefinitionArns: list("ecsTaskDefinitionArns") ?? [],
          passRoleArns: list("ecsPassRoleArns") ?? [],
        };
  if (ecs && (ecs.taskDefinitionArns.length === 0 || ecs.passRoleArns.length === 0))
    problems.push("ecsClusterArn needs ecsTaskDefinitionArns and ecsPassRoleArns");

  const email = str("alarmEmail");
  const props: Omit<StackseamProps, "release"> = {
    ...only([
      ["prefix", str("prefix")],
      ["specPrefix", str("specPrefix")],
    ]),
    ...(architecture === "x86_64" || architecture === "arm64" ? { architecture } : {}),
    database: database ?? { kind: "secret", secretArn: "" },
    ...only([["vpcId", str("vpcId")]]),
    ...only([["subnetIds", list("subnetIds")]]),
    ...only([
      ["vpcEndpoints", bool("vpcEndpoints")],
      ["paused", bool("paused")],
    ]),
    stateManager: only([
      ["timeoutSeconds", num("stateManagerTimeout", 1, 900)],
      ["memoryMb", num("stateManagerMemory", 128, 10240)],
      ["batchSize", num("stateManagerBatchSize", 1, 10)],
      ["maxBatchingWindowSeconds", num("stateManagerBatchingWindow", 0, 300)],
      ["maxConcurrency", num("stateManagerMaxConcurrency", 2, 1000)],
      ["maxReceiveCount", maxReceiveCount],
      ["poolMax", num("postgresPoolMax", 1, 50)],
    ]),
    taskSatisfier: {
      ...only<number | boolean>([
        ["timeoutSeconds", num("taskSatisfierTimeout", 1, 900)],
        ["memoryMb", num("taskSatisfierMemory", 128, 10240)],
        ["ephemeralStorageMb", num("taskSatisfierEphemeralStorage", 512, 10240)],
        ["batchSize", num("taskSatisfierBatchSize", 1, 10)],
        ["maxConcurrency", num("taskSatisfierMaxConcurrency", 2, 1000)],
        ["maxReceiveCount", maxReceiveCount],
        ["deadlineMarginMs", num("deadlineMarginMs", 0, 900_000)],
        ["inVpc", bool("taskSatisfierInVpc")],
      ]),
    },
    tick: {
      enabled: tickRaw === "true" ? true : tickRaw === "false" ? false : "auto",
      ...only([["reservedConcurrency", num("tickReservedConcurrency", 1, 1000)]]),
    },
    ...(stateBucket !== undefined
      ? {
          terraform: {
            stateBucket,
            ...only([
              ["statePrefix", str("terraformStatePrefix")],
              ["sourceBucket", str("terraformSourceBucket")],
              ["sourcePrefix", str("terraformSourcePrefix")],
              ["lockTable", str("terraformLockTable")],
              ["layerArn", str("terraformLayerArn")],
              ["bin", str("terraformBin")],
            ]),
          },
        }
      : {}),
    ...only([["invokeTargets", list("invokeTargets")]]),
    notifications: only([
      ["topicArns", list("notificationTopicArns")],
      ["eventBusArns", list("eventBusArns")],
      ["webhookSecretArns", list("webhookSecretArns")],
    ]),
    ...(ecs ? { ecsRunner: ecs } : {}),
    alarms: {
      ...(email !== undefined ? { email } : {}),
      ...only([
        ["eventAgeSeconds", num("eventAgeAlarmSeconds", 60, 1_209_600)],
        ["taskAgeSeconds", num("taskAgeAlarmSeconds", 60, 1_209_600)],
      ]),
    },
    ...only([["logRetentionDays", num("logRetentionDays", 1, 3653)]]),
  };
  if (problems.length > 0) throw new DeployConfigError(problems);
  return { stackName: str("stackName") ?? "Stackseam", release, props };
}
