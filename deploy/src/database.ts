// The database the State Manager connects to: a secret you bring, or Aurora Serverless v2 behind RDS
// Proxy. Either way the functions get one secret in the RDS shape (POSTGRES_CONNECTION_SECRET).
import { Duration, RemovalPolicy, SecretValue } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as rds from "aws-cdk-lib/aws-rds";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import type { AuroraDatabase } from "./props.js";

export const DATABASE_NAME = "stackseam";
export const DATABASE_USER = "stackseam";

/** Aurora PostgreSQL Serverless v2, an RDS Proxy in front, and the connection secret naming the proxy. */
export class AuroraWithProxy extends Construct {
  readonly cluster: rds.DatabaseCluster;
  readonly proxy: rds.DatabaseProxy;
  /** {engine, host: the proxy, port, dbname, username, password}: what the State Manager reads. */
  readonly connectionSecret: secretsmanager.Secret;
  readonly proxySecurityGroup: ec2.SecurityGroup;

  constructor(
    scope: Construct,
    id: string,
    props: AuroraDatabase & {
      prefix: string;
      vpc: ec2.IVpc;
      subnets: ec2.SubnetSelection;
      clients: ec2.ISecurityGroup;
      minCapacity: number;
      maxCapacity: number;
    },
  ) {
    super(scope, id);
    const clusterSecurityGroup = new ec2.SecurityGroup(this, "ClusterSecurityGroup", {
      vpc: props.vpc,
      description: "Stackseam Aurora cluster: Postgres from the proxy only",
      allowAllOutbound: false,
    });
    this.proxySecurityGroup = new ec2.SecurityGroup(this, "ProxySecurityGroup", {
      vpc: props.vpc,
      description: "Stackseam RDS Proxy: Postgres from the functions and the admin hosts",
      allowAllOutbound: true,
    });
    clusterSecurityGroup.addIngressRule(
      this.proxySecurityGroup,
      ec2.Port.tcp(5432),
      "Postgres from RDS Proxy",
    );
    this.proxySecurityGroup.addIngressRule(
      props.clients,
      ec2.Port.tcp(5432),
      "Postgres from Stackseam functions",
    );
    for (const [i, sg] of (props.adminSecurityGroupIds ?? []).entries()) {
      this.proxySecurityGroup.addIngressRule(
        ec2.SecurityGroup.fromSecurityGroupId(this, `Admin${i}`, sg),
        ec2.Port.tcp(5432),
        "Postgres from an admin host (stackseam migrate)",
      );
    }

    this.cluster = new rds.DatabaseCluster(this, "Cluster", {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_USER, {
        secretName: `${props.prefix}/database-admin`,
      }),
      defaultDatabaseName: DATABASE_NAME,
      writer: rds.ClusterInstance.serverlessV2("Writer", { publiclyAccessible: false }),
      serverlessV2MinCapacity: props.minCapacity,
      serverlessV2MaxCapacity: props.maxCapacity,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [clusterSecurityGroup],
      storageEncrypted: true,
      deletionProtection: true,
      backup: { retention: Duration.days(7) },
      cloudwatchLogsExports: ["postgresql"],
      // Stacks and their history live here: deleting the stack leaves a final snapshot.
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    const admin = this.cluster.secret;
    if (!admin) throw new Error("the Aurora cluster has no generated secret");

    this.proxy = this.cluster.addProxy("Proxy", {
      dbProxyName: `${props.prefix}-database`,
      secrets: [admin],
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.proxySecurityGroup],
      requireTLS: true,
    });

    // The State Manager builds its URL from the secret's host: this copy names the proxy. Its
    // password is resolved from the cluster secret at deploy time, so the cluster secret is not
    // rotated (a rotation would leave this copy behind); see docs/deployment.md.
    this.connectionSecret = new secretsmanager.Secret(this, "ConnectionSecret", {
      secretName: `${props.prefix}/database-connection`,
      description: "Stackseam State Manager connection (RDS Proxy endpoint; POSTGRES_CONNECTION_SECRET)",
      secretObjectValue: {
        engine: SecretValue.unsafePlainText("postgres"),
        host: SecretValue.unsafePlainText(this.proxy.endpoint),
        port: SecretValue.unsafePlainText("5432"),
        dbname: SecretValue.unsafePlainText(DATABASE_NAME),
        username: admin.secretValueFromJson("username"),
        password: admin.secretValueFromJson("password"),
      },
    });
  }
}
