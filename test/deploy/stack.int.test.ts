// `cdk synth` of the Stackseam app, checked resource by resource (no AWS account): queues and their
// redrive, the timeout relation, event source mappings, functions, tick schedule, spec bucket,
// database, alarms, dashboard, and roles equal to the iam-policies/ templates.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { DeployConfigError } from "../../deploy/src/errors.js";
import type { StackseamProps } from "../../deploy/src/props.js";
import type { VerifiedRelease } from "../../deploy/src/release.js";
import { fakeRelease, type Synthesized, synth, vpcLookupContext } from "./support.js";

const root = join(import.meta.dirname, "../..");
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stackseam/db-AbCdEf";
const VPC_ID = "vpc-0123456789abcdef0";

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const resourcesOf = (t: Template, type: string): Resources => t.findResources(type) as unknown as Resources;
const one = (t: Template, type: string, props: Record<string, unknown>) => {
  const found = Object.entries(t.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found, `${type} ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0] as [string, { Properties: Record<string, unknown> }];
};

/** Action sets per Sid of a template file, read straight from iam-policies/. */
function templateActions(name: string): Record<string, string[]> {
  const doc = JSON.parse(readFileSync(join(root, "iam-policies", `${name}.json`), "utf8")) as {
    Statement: Array<{ Sid: string; Action: string | string[] }>;
  };
  return Object.fromEntries(doc.Statement.map((s) => [s.Sid, [s.Action].flat().sort()]));
}

const BASE: Omit<StackseamProps, "release"> = {
  database: { kind: "secret", secretArn: SECRET },
  terraform: {
    stateBucket: "acme-tf-state",
    statePrefix: "stacks/",
    layerArn: "arn:aws:lambda:eu-west-1:123456789012:layer:terraform:3",
  },
  invokeTargets: ["seed-db", "notify:live", "arn:aws:lambda:eu-west-1:123456789012:function:cleanup:*"],
};

describe("synthesized stack: your own database, no VPC, a release with the tick", () => {
  let release: VerifiedRelease;
  let s: Synthesized;
  let t: Template;
  beforeAll(async () => {
    release = await fakeRelease({ tick: true });
    s = synth(release, BASE);
    t = s.template;
  });

  it("passes cdk-nag's AWS Solutions checks; every acknowledgement has a written reason", () => {
    expect(s.violations).toEqual([]);
    for (const a of s.acknowledgements) expect(a.reason.length, `${a.id} on ${a.path}`).toBeGreaterThan(40);
  });

  it("creates two queues and two DLQs, encrypted, TLS only, redriving after 5 receives", () => {
    const queues = resourcesOf(t, "AWS::SQS::Queue");
    expect(
      Object.values(queues)
        .map((q) => q.Properties.QueueName)
        .sort(),
    ).toEqual(["stackseam-events", "stackseam-events-dlq", "stackseam-tasks", "stackseam-tasks-dlq"]);
    for (const q of Object.values(queues)) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    for (const name of ["events", "tasks"]) {
      const [dlqId] = one(t, "AWS::SQS::Queue", {
        QueueName: `stackseam-${name}-dlq`,
        MessageRetentionPeriod: 1209600,
      });
      one(t, "AWS::SQS::Queue", {
        QueueName: `stackseam-${name}`,
        RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] }, maxReceiveCount: 5 },
      });
    }
    const policies = Object.values(resourcesOf(t, "AWS::SQS::QueuePolicy"));
    expect(policies).toHaveLength(4);
    for (const p of policies)
      expect(JSON.stringify(p.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });

  it("gives each queue a visibility timeout of 6 × its consumer's timeout + batching window (AWS's rule)", () => {
    const functions = resourcesOf(t, "AWS::Lambda::Function");
    const queues = resourcesOf(t, "AWS::SQS::Queue");
    const mappings = Object.values(resourcesOf(t, "AWS::Lambda::EventSourceMapping"));
    expect(mappings).toHaveLength(2);
    const seen: Record<string, [number, number]> = {};
    for (const m of mappings) {
      const fnId = (m.Properties.FunctionName as { Ref: string }).Ref;
      const queueId = (m.Properties.EventSourceArn as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
      const timeout = functions[fnId]?.Properties.Timeout as number;
      const window = (m.Properties.MaximumBatchingWindowInSeconds as number | undefined) ?? 0;
      const visibility = queues[queueId]?.Properties.VisibilityTimeout as number;
      expect(visibility).toBe(6 * timeout + window);
      seen[queues[queueId]?.Properties.QueueName as string] = [timeout, visibility];
    }
    // docs/deployment.md's figures: 60 s and 900 s functions, 360 s and 5400 s queues.
    expect(seen).toEqual({ "stackseam-events": [60, 360], "stackseam-tasks": [900, 5400] });
  });

  it("maps each queue to its function with ReportBatchItemFailures, batch size and maximum concurrency", () => {
    const [smId] = one(t, "AWS::Lambda::Function", { FunctionName: "stackseam-state-manager" });
    const [tsId] = one(t, "AWS::Lambda::Function", { FunctionName: "stackseam-task-satisfier" });
    one(t, "AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: smId },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 10 },
      Enabled: true,
    });
    one(t, "AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: tsId },
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 20 },
      Enabled: true,
    });
  });

  it("runs both functions and the tick on Node 24, x86-64, from the release zips", () => {
    const fns = Object.values(resourcesOf(t, "AWS::Lambda::Function"));
    expect(fns.map((f) => f.Properties.FunctionName).sort()).toEqual([
      "stackseam-state-manager",
      "stackseam-state-manager-tick",
      "stackseam-task-satisfier",
    ]);
    for (const f of fns) {
      expect(f.Properties.Runtime).toBe("nodejs24.x");
      expect(f.Properties.Architectures).toEqual(["x86_64"]);
    }
    const [, sm] = one(t, "AWS::Lambda::Function", {
      FunctionName: "stackseam-state-manager",
      Handler: "index.handler",
      MemorySize: 512,
    });
    const [, tick] = one(t, "AWS::Lambda::Function", {
      FunctionName: "stackseam-state-manager-tick",
      Handler: "index.tick",
      Timeout: 60,
      ReservedConcurrentExecutions: 2,
    });
    const [, ts] = one(t, "AWS::Lambda::Function", {
      FunctionName: "stackseam-task-satisfier",
      Handler: "index.handler",
      MemorySize: 2048,
      EphemeralStorage: { Size: 4096 },
    });
    // The tick is the State Manager's code with the State Manager's role and environment.
    expect(tick.Properties.Code).toEqual(sm.Properties.Code);
    expect(tick.Properties.Role).toEqual(sm.Properties.Role);
    expect(tick.Properties.Environment).toEqual(sm.Properties.Environment);
    expect(sm.Properties.Environment).toEqual({
      Variables: expect.objectContaining({
        MACHINE_LOCATOR: "S3",
        MACHINE_S3_KEY: "machines/",
        POSTGRES_CONNECTION_SECRET: SECRET,
        POSTGRES_SSL: "require",
      }),
    });
    expect(ts.Properties.Environment).toEqual({
      Variables: expect.objectContaining({
        TERRAFORM_BIN: "/opt/bin/terraform",
        TERRAFORM_STATE_BUCKET: "acme-tf-state",
      }),
    });
    expect(ts.Properties.Layers).toEqual([BASE.terraform?.layerArn]);
    for (const f of fns) expect(f.Properties.VpcConfig).toBeUndefined();
  });

  it("fires the tick every minute from an EventBridge Scheduler schedule", () => {
    const [tickId] = one(t, "AWS::Lambda::Function", { FunctionName: "stackseam-state-manager-tick" });
    one(t, "AWS::Scheduler::Schedule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      GroupName: Match.anyValue(),
      Target: Match.objectLike({
        Arn: { "Fn::GetAtt": [tickId, "Arn"] },
        RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 0 }),
      }),
    });
  });

  it("keeps specs in a versioned, encrypted, private, TLS-only bucket with access logs", () => {
    const [bucketId] = one(t, "AWS::S3::Bucket", {
      VersioningConfiguration: { Status: "Enabled" },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: "spec-bucket/" }),
    });
    one(t, "AWS::S3::BucketPolicy", {
      Bucket: { Ref: bucketId },
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      }),
    });
    t.hasOutput("SpecBucketName", { Value: { Ref: bucketId } });
    t.hasOutput("SpecPrefix", { Value: "machines/" });
  });

  it("alarms on DLQ depth, oldest message age, errors, throttles and tick failures, all to the SNS topic", () => {
    const alarms = Object.values(resourcesOf(t, "AWS::CloudWatch::Alarm"));
    expect(alarms.map((a) => a.Properties.AlarmName).sort()).toEqual(
      [
        "events-dlq-not-empty",
        "events-oldest-message-age",
        "state-manager-errors",
        "state-manager-throttles",
        "task-satisfier-errors",
        "task-satisfier-throttles",
        "tasks-dlq-not-empty",
        "tasks-oldest-message-age",
        "tick-errors",
        "tick-not-running",
        "tick-schedule-failures",
        "tick-throttles",
      ].map((n) => `stackseam-${n}`),
    );
    const [topicId] = one(t, "AWS::SNS::Topic", { TopicName: "stackseam-alarms" });
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    const dlq = alarms.filter((a) => String(a.Properties.AlarmName).endsWith("dlq-not-empty"));
    for (const a of dlq) {
      expect(a.Properties).toMatchObject({
        MetricName: "ApproximateNumberOfMessagesVisible",
        ComparisonOperator: "GreaterThanThreshold",
        Threshold: 0,
      });
    }
    one(t, "AWS::CloudWatch::Alarm", {
      AlarmName: "stackseam-events-oldest-message-age",
      MetricName: "ApproximateAgeOfOldestMessage",
      Threshold: 300,
    });
    one(t, "AWS::CloudWatch::Alarm", {
      AlarmName: "stackseam-tick-not-running",
      MetricName: "Invocations",
      TreatMissingData: "breaching",
    });
  });

  it("has a dashboard with events/s next to the alarm figures", () => {
    const dash = Object.values(resourcesOf(t, "AWS::CloudWatch::Dashboard"));
    expect(dash).toHaveLength(1);
    const body = JSON.stringify(dash[0]?.Properties.DashboardBody);
    for (const text of [
      "events/s",
      "PERIOD(events)",
      "ApproximateAgeOfOldestMessage",
      "Throttles",
      "Errors",
      "TargetErrorCount",
    ])
      expect(body).toContain(text);
  });

  it("gives each role exactly the iam-policies/ templates, and nothing AWS-managed", () => {
    const roles = Object.values(resourcesOf(t, "AWS::IAM::Role")).filter((r) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes("lambda.amazonaws.com"),
    );
    expect(roles).toHaveLength(2);
    const byName = (r: (typeof roles)[number]) =>
      Object.fromEntries(
        (
          r.Properties.Policies as Array<{
            PolicyName: string;
            PolicyDocument: { Statement: Array<{ Sid: string; Action: string | string[] }> };
          }>
        ).map((p) => [
          p.PolicyName,
          Object.fromEntries(p.PolicyDocument.Statement.map((st) => [st.Sid, [st.Action].flat().sort()])),
        ]),
      );
    const got = roles.map(byName).sort((a, b) => Object.keys(a).length - Object.keys(b).length);
    expect(got).toEqual([
      { "state-manager": templateActions("state-manager") },
      {
        "task-satisfier": templateActions("task-satisfier"),
        "task-satisfier-terraform": templateActions("task-satisfier-terraform"),
        "task-satisfier-lambda": templateActions("task-satisfier-lambda"),
      },
    ]);
    for (const r of roles) expect(r.Properties.ManagedPolicyArns).toBeUndefined();
    expect(JSON.stringify(t.toJSON())).not.toContain("sqs:ChangeMessageVisibility");
  });

  it("lets lambda tasks invoke exactly the targets given, qualified ones included", () => {
    const statement = Object.values(resourcesOf(t, "AWS::IAM::Role"))
      .flatMap(
        (r) =>
          (r.Properties.Policies ?? []) as Array<{
            PolicyDocument: { Statement: Array<{ Sid: string; Resource: unknown }> };
          }>,
      )
      .flatMap((p) => p.PolicyDocument.Statement)
      .find((st) => st.Sid === "InvokeTaskFunctions");
    // Each resource is Fn::Join ["", ["arn:", {Ref: AWS::Partition}, ":lambda:…"]]: flatten to text.
    const flat = (v: unknown): string =>
      typeof v === "string"
        ? v
        : Array.isArray(v)
          ? v.map(flat).join("")
          : v && typeof v === "object" && "Fn::Join" in v
            ? flat((v as { "Fn::Join": [string, unknown[]] })["Fn::Join"][1])
            : "aws";
    const resources = [statement?.Resource].flat().map(flat).sort();
    // A task with `qualifier: live` calls …:function:notify:live; an unqualified grant would not cover it.
    expect(resources).toEqual([
      "arn:aws:lambda:eu-west-1:123456789012:function:cleanup:*",
      "arn:aws:lambda:eu-west-1:123456789012:function:notify:live",
      "arn:aws:lambda:eu-west-1:123456789012:function:seed-db",
    ]);
  });
});

describe("synthesized stack: Aurora Serverless v2 behind RDS Proxy in a VPC", () => {
  let s: Synthesized;
  let t: Template;
  beforeAll(async () => {
    s = synth(
      await fakeRelease({ tick: false }),
      {
        ...BASE,
        database: { kind: "aurora", adminSecurityGroupIds: ["sg-0123456789abcdef0"] },
        vpcId: VPC_ID,
      },
      vpcLookupContext(VPC_ID),
    );
    t = s.template;
  });

  it("passes cdk-nag's AWS Solutions checks; every acknowledgement has a written reason", () => {
    expect(s.violations).toEqual([]);
    for (const a of s.acknowledgements) expect(a.reason.length, `${a.id} on ${a.path}`).toBeGreaterThan(40);
  });

  it("creates an encrypted, protected Aurora PostgreSQL Serverless v2 cluster and a TLS-only proxy", () => {
    one(t, "AWS::RDS::DBCluster", {
      Engine: "aurora-postgresql",
      StorageEncrypted: true,
      DeletionProtection: true,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
      EnableCloudwatchLogsExports: ["postgresql"],
    });
    one(t, "AWS::RDS::DBInstance", { DBInstanceClass: "db.serverless", PubliclyAccessible: false });
    one(t, "AWS::RDS::DBProxy", { EngineFamily: "POSTGRESQL", RequireTLS: true });
  });

  it("hands the functions a secret that names the proxy, and verifies its certificate", () => {
    const [proxyId] = one(t, "AWS::RDS::DBProxy", {});
    const [secretId, secret] = one(t, "AWS::SecretsManager::Secret", {
      Name: "stackseam/database-connection",
    });
    expect(JSON.stringify(secret.Properties.SecretString)).toContain(
      `"Fn::GetAtt":["${proxyId}","Endpoint"]`,
    );
    const [, sm] = one(t, "AWS::Lambda::Function", { FunctionName: "stackseam-state-manager" });
    expect(sm.Properties.Environment).toEqual({
      Variables: expect.objectContaining({
        POSTGRES_CONNECTION_SECRET: { Ref: secretId },
        POSTGRES_SSL: "verify",
        NODE_EXTRA_CA_CERTS: "/var/runtime/ca-cert.pem",
      }),
    });
  });

  it("puts the State Manager in the VPC with the endpoints it needs; the Task Satisfier stays out", () => {
    const [, sm] = one(t, "AWS::Lambda::Function", { FunctionName: "stackseam-state-manager" });
    expect(sm.Properties.VpcConfig).toMatchObject({
      SubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
    });
    const [, ts] = one(t, "AWS::Lambda::Function", { FunctionName: "stackseam-task-satisfier" });
    expect(ts.Properties.VpcConfig).toBeUndefined();
    const endpoints = Object.values(resourcesOf(t, "AWS::EC2::VPCEndpoint")).map((e) =>
      JSON.stringify(e.Properties.ServiceName),
    );
    expect(endpoints.length).toBe(3);
    for (const service of [".s3", ".sqs", ".secretsmanager"])
      expect(endpoints.some((e) => e.includes(service))).toBe(true);
    // The tick is absent: this release's zip does not export it.
    expect(Object.keys(resourcesOf(t, "AWS::Scheduler::Schedule"))).toEqual([]);
  });

  it("allows Postgres to the proxy from the functions and the admin host only", () => {
    const ingress = Object.values(resourcesOf(t, "AWS::EC2::SecurityGroupIngress")).filter(
      (r) => r.Properties.FromPort === 5432,
    );
    expect(ingress.map((r) => JSON.stringify(r.Properties.SourceSecurityGroupId)).sort()).toEqual(
      expect.arrayContaining(['"sg-0123456789abcdef0"']),
    );
    expect(JSON.stringify(t.toJSON())).not.toContain('0.0.0.0/0","FromPort":5432');
  });
});

describe("parameters that cannot work are refused before anything is synthesized", () => {
  let release: VerifiedRelease;
  beforeAll(async () => {
    release = await fakeRelease({ tick: false });
  });
  const problems = (props: Omit<StackseamProps, "release">): readonly string[] => {
    try {
      synth(release, props);
    } catch (err) {
      if (err instanceof DeployConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it("Aurora without a VPC, tick forced on a release without it, a malformed invoke target", () => {
    expect(
      problems({ database: { kind: "aurora" }, tick: { enabled: true }, invokeTargets: ["bad name"] }),
    ).toEqual([
      "database: Aurora needs a VPC (vpcId)",
      `tick: the State Manager zip of release ${release.version} does not export tick (it exports handler)`,
      'invoke target "bad name": not a function name, name:qualifier or function ARN',
    ]);
  });

  it("notification targets: each grant only for the topics, buses and webhook secrets given", () => {
    const notifications = {
      topicArns: ["arn:aws:sns:eu-west-1:123456789012:stackseam-news"],
      eventBusArns: [
        "arn:aws:events:eu-west-1:123456789012:event-bus/default",
        "arn:aws:events:eu-west-1:123456789012:event-bus/ops",
      ],
      webhookSecretArns: ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:stackseam/hooks-Q1w2E3"],
    };
    expect(problems({ ...BASE, notifications })).toEqual([]);
    const s = synth(release, { ...BASE, notifications });
    expect(s.violations).toEqual([]);
    const policies = Object.values(resourcesOf(s.template, "AWS::IAM::Role")).flatMap(
      (r) =>
        (r.Properties.Policies ?? []) as Array<{
          PolicyName: string;
          PolicyDocument: { Statement: unknown[] };
        }>,
    );
    const statementsOf = (name: string) =>
      policies.filter((p) => p.PolicyName === name).flatMap((p) => p.PolicyDocument.Statement);
    expect(statementsOf("state-manager-sns")).toEqual([
      expect.objectContaining({ Action: "sns:Publish", Resource: notifications.topicArns[0] }),
    ]);
    expect(statementsOf("state-manager-eventbridge")).toEqual([
      expect.objectContaining({ Action: "events:PutEvents", Resource: notifications.eventBusArns }),
    ]);
    expect(statementsOf("state-manager-webhook-secrets")).toEqual([
      expect.objectContaining({
        Action: "secretsmanager:GetSecretValue",
        Resource: notifications.webhookSecretArns[0],
      }),
    ]);
    // Without the parameters, no such grant.
    const plain = Object.values(resourcesOf(synth(release, BASE).template, "AWS::IAM::Role")).flatMap(
      (r) => (r.Properties.Policies ?? []) as Array<{ PolicyName: string }>,
    );
    expect(plain.map((p) => p.PolicyName).filter((n) => n.startsWith("state-manager-"))).toEqual([]);
  });

  it("the ECS runner needs the Terraform state bucket", () => {
    const ecsRunner = {
      clusterArn: "arn:aws:ecs:eu-west-1:123456789012:cluster/stackseam",
      taskDefinitionArns: ["arn:aws:ecs:eu-west-1:123456789012:task-definition/stackseam-runner:*"],
      passRoleArns: ["arn:aws:iam::123456789012:role/stackseam-runner"],
    };
    expect(problems({ database: BASE.database, ecsRunner })).toEqual([
      "ecsClusterArn: the remote runner needs terraformStateBucket (it also carries large task messages)",
    ]);
    const s = synth(release, { ...BASE, ecsRunner });
    expect(s.violations).toEqual([]);
    const statements = Object.values(resourcesOf(s.template, "AWS::IAM::Role"))
      .flatMap(
        (r) =>
          (r.Properties.Policies ?? []) as Array<{
            PolicyName: string;
            PolicyDocument: { Statement: unknown[] };
          }>,
      )
      .filter((p) => p.PolicyName === "task-satisfier-ecs")
      .flatMap((p) => p.PolicyDocument.Statement);
    expect(statements).toEqual([
      expect.objectContaining({
        Action: "ecs:RunTask",
        Resource: ecsRunner.taskDefinitionArns[0],
        Condition: { ArnEquals: { "ecs:cluster": ecsRunner.clusterArn } },
      }),
      expect.objectContaining({
        Action: "iam:PassRole",
        Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      }),
      expect.objectContaining({
        Action: "s3:PutObject",
        Resource: "arn:aws:s3:::acme-tf-state/stackseam/runner-messages/*",
      }),
    ]);
  });

  it("pauses consumption for a first deployment before migrations", () => {
    const t = synth(release, { ...BASE, paused: true }).template;
    for (const m of Object.values(resourcesOf(t, "AWS::Lambda::EventSourceMapping")))
      expect(m.Properties.Enabled).toBe(false);
  });
});
