#!/usr/bin/env node
// `npx cdk deploy` entry point: context → verified release → stack, with cdk-nag's AWS Solutions
// checks on everything (an unsuppressed finding fails the synth).
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { propsFromContext } from "./context.js";
import { loadRelease } from "./release.js";
import { StackseamStack } from "./stack.js";

const app = new App();
const { stackName, release, props } = propsFromContext(app.node);
new StackseamStack(app, stackName, {
  ...props,
  release: loadRelease(release),
  // The CLI's profile supplies account and region; VPC lookups need them.
  ...(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
    ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } }
    : {}),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
