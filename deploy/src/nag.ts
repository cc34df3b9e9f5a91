// cdk-nag AwsSolutions findings this app accepts, each with the reason it is accepted. Anything not
// acknowledged here fails `cdk synth` (the test suite runs the same checks).
import { type Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { flattenCfnReference } from "cdk-nag/lib/utils/flatten-cfn-reference.js";
import type { IConstruct } from "constructs";
import type { AuroraWithProxy } from "./database.js";

/**
 * Why a wildcard in a statement's resources is the narrowest grant possible, by the statement's Sid
 * in iam-policies/*.json. A new wildcard statement without a reason here fails the synth.
 */
export const WILDCARD_REASONS: Readonly<Record<string, string>> = {
  ReadMachineSpecs:
    "Every object under the spec prefix is a machine spec (the State Manager lists the prefix); the prefix is the narrowest scope S3 offers.",
  WriteOwnLogs:
    "Lambda creates log streams with run-time names inside the function's own log group; ':*' covers that group's streams only.",
  ReadWriteTerraformStateAndLockfiles:
    "Terraform writes one state object and one .tflock lockfile per stack under the state prefix; the keys exist only at run time.",
  ReadTerraformSources:
    "Terraform code is every object under the configured source prefix; the prefix is the narrowest scope S3 offers.",
  VpcNetworkInterfaces:
    "Lambda's VPC network-interface actions support no resource-level permissions: AWS documents Resource '*' for them.",
  RunRunnerTasks:
    "A task definition ARN ending in ':*' was configured on purpose: every revision of that runner family, on the one cluster the condition names.",
  WriteLargeRunnerMessages:
    "Task messages too big for an ECS container override are written under stackseam/runner-messages/ with run-time keys (stack and token).",
  InvokeTaskFunctions:
    "A 'name:*' invoke target was configured on purpose: lambda tasks call that function with a qualifier (version or alias).",
};

/** Reason for the IAM5 findings of roles the app does not define itself, by a fragment of their path. */
const GENERATED_ROLE_REASONS: ReadonlyArray<[RegExp, string]> = [
  [
    /SchedulerRoleForTarget/,
    "CDK's Lambda target for EventBridge Scheduler grants invoke on the tick function and its versions ('<arn>:*'); the schedule invokes the unqualified function only.",
  ],
  [
    /Proxy\/IAMRole/,
    "RDS Proxy reads the cluster secret; CDK scopes the grant to that secret's ARN with Secrets Manager's version suffix wildcard.",
  ],
];

type Statement = { Effect?: string; Sid?: string; Resource?: unknown; Action?: unknown };

function wildcardFindings(statement: Statement): string[] {
  if (statement.Effect !== "Allow") return [];
  const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
  return resources
    .map((r) => flattenCfnReference(r))
    .filter((r) => r.includes("*"))
    .map((r) => `AwsSolutions-IAM5[Resource::${r}]`);
}

function acknowledgeStatements(
  target: IConstruct,
  statements: readonly Statement[],
  reasonOf: (s: Statement) => string | undefined,
): void {
  for (const statement of statements) {
    const reason = reasonOf(statement);
    if (reason === undefined) continue;
    for (const id of wildcardFindings(statement)) Validations.of(target).acknowledge({ id, reason });
  }
}

/** Acknowledges the app's accepted findings on a StackseamStack (called at the end of its constructor). */
export function acknowledgeFindings(stack: Stack, parts: { aurora: AuroraWithProxy | undefined }): void {
  for (const c of stack.node.findAll()) {
    if (c instanceof iam.CfnRole) {
      const policies = (stack.resolve(c.policies) ?? []) as Array<{
        policyDocument: { Statement: Statement[] };
      }>;
      for (const p of policies)
        acknowledgeStatements(c, p.policyDocument.Statement, (s) => WILDCARD_REASONS[s.Sid ?? ""]);
    } else if (c instanceof iam.CfnPolicy) {
      const generated = GENERATED_ROLE_REASONS.find(([pattern]) => pattern.test(c.node.path));
      if (!generated) continue;
      const doc = stack.resolve(c.policyDocument) as { Statement: Statement[] };
      acknowledgeStatements(c, doc.Statement, () => generated[1]);
    }
  }

  const ack = (target: IConstruct | undefined, id: string, reason: string) => {
    if (target) Validations.of(target).acknowledge({ id, reason });
  };
  // The alarm topic: CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS
  // key, and alarm messages carry metric names and thresholds only.
  for (const c of stack.node.findAll()) {
    if (c.node.path.endsWith("/Monitoring/AlarmTopic/Resource"))
      ack(
        c,
        "AwsSolutions-SNS2",
        "Alarm notifications hold only alarm names, metrics and thresholds; CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key would add cost for no secret to protect.",
      );
    if (c.node.path.endsWith("/AccessLogBucket/Resource"))
      ack(
        c,
        "AwsSolutions-S1",
        "This is the server access log bucket of the spec bucket; logging it into itself would loop.",
      );
  }
  if (parts.aurora) {
    const cluster = parts.aurora.cluster.node.defaultChild as IConstruct;
    ack(
      cluster,
      "AwsSolutions-RDS6",
      "The State Manager authenticates with a password from Secrets Manager (POSTGRES_CONNECTION_SECRET); it has no IAM database authentication.",
    );
    ack(
      cluster,
      "AwsSolutions-RDS11",
      "Port 5432 is reachable only from the RDS Proxy's security group inside the VPC; a non-default port adds no protection there.",
    );
    // cluster.secret is the attachment; the generated secret itself is the cluster's "Secret" child.
    ack(
      parts.aurora.cluster.node.tryFindChild("Secret")?.node.defaultChild,
      "AwsSolutions-SMG4",
      "Not rotated: the connection secret for RDS Proxy copies this password at deploy time, and a rotation would leave it behind until the next deploy (see docs/deployment.md).",
    );
    ack(
      parts.aurora.connectionSecret.node.defaultChild as IConstruct,
      "AwsSolutions-SMG4",
      "A deploy-time copy of the cluster secret that names the RDS Proxy host; it changes when the cluster secret does, at the next deploy.",
    );
  }
}
