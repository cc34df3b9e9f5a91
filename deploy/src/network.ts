// The functions' place in the VPC and the endpoints they need there without a NAT gateway.
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Construct } from "constructs";

/** Lambda security group, subnets and (optionally) the VPC endpoints SQS, S3 and Secrets Manager. */
export class FunctionNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(
    scope: Construct,
    id: string,
    props: { vpc: ec2.IVpc; subnets?: ec2.SubnetSelection; endpoints: boolean; interfaceServices: string[] },
  ) {
    super(scope, id);
    this.vpc = props.vpc;
    this.subnets = props.subnets ?? {
      subnets: props.vpc.privateSubnets.length > 0 ? props.vpc.privateSubnets : props.vpc.isolatedSubnets,
    };
    // Outbound: Postgres and HTTPS to the endpoints (or NAT). Nothing connects in.
    this.securityGroup = new ec2.SecurityGroup(this, "FunctionSecurityGroup", {
      vpc: props.vpc,
      description: "Stackseam functions in the VPC",
      allowAllOutbound: true,
    });
    if (!props.endpoints) return;
    new ec2.GatewayVpcEndpoint(this, "S3Endpoint", {
      vpc: props.vpc,
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [this.subnets],
    });
    const endpointSecurityGroup = new ec2.SecurityGroup(this, "EndpointSecurityGroup", {
      vpc: props.vpc,
      description: "Stackseam interface endpoints: HTTPS from the functions only",
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(
      this.securityGroup,
      ec2.Port.tcp(443),
      "HTTPS from Stackseam functions",
    );
    for (const service of props.interfaceServices) {
      new ec2.InterfaceVpcEndpoint(
        this,
        `${service.replace(/(^|[^a-z])([a-z])/g, (_m, _p, c: string) => c.toUpperCase())}Endpoint`,
        {
          vpc: props.vpc,
          service: new ec2.InterfaceVpcEndpointAwsService(service),
          subnets: this.subnets,
          privateDnsEnabled: true,
          securityGroups: [endpointSecurityGroup],
          open: false,
        },
      );
    }
  }
}
