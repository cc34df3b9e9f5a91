// The timing rule, invoke targets, and `-c name=value` parameters, without synthesizing anything.
import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { CONTEXT_KEYS, propsFromContext } from "../../deploy/src/context.js";
import { DeployConfigError } from "../../deploy/src/errors.js";
import { invokeResourceArn, parseInvokeTarget } from "../../deploy/src/invoke-targets.js";
import { visibilityTimeoutSeconds } from "../../deploy/src/timeouts.js";

describe("visibility timeout", () => {
  // AWS Lambda's SQS guidance: at least six times the function timeout plus the batching window.
  it.each([
    [60, 0, 360],
    [900, 0, 5400],
    [30, 5, 185],
    [900, 300, 5700],
  ])("function %i s, window %i s → %i s", (timeout, window, expected) => {
    expect(visibilityTimeoutSeconds(timeout, window)).toBe(expected);
  });

  it("refuses figures Lambda cannot have", () => {
    expect(() => visibilityTimeoutSeconds(901)).toThrow(RangeError);
    expect(() => visibilityTimeoutSeconds(60, 301)).toThrow(RangeError);
  });
});

describe("invoke targets", () => {
  const where = { partition: "aws", region: "eu-west-1", account: "123456789012" };
  it.each([
    ["seed-db", "arn:aws:lambda:eu-west-1:123456789012:function:seed-db"],
    ["notify:live", "arn:aws:lambda:eu-west-1:123456789012:function:notify:live"],
    ["notify:*", "arn:aws:lambda:eu-west-1:123456789012:function:notify:*"],
    ["notify:$LATEST", "arn:aws:lambda:eu-west-1:123456789012:function:notify:$LATEST"],
    [
      "arn:aws:lambda:us-east-1:210987654321:function:other:7",
      "arn:aws:lambda:us-east-1:210987654321:function:other:7",
    ],
  ])("%s → %s", (text, arn) => {
    const t = parseInvokeTarget(text);
    if (typeof t === "string") throw new Error(t);
    expect(invokeResourceArn(t, where)).toBe(arn);
  });

  it("refuses what is not a function", () => {
    expect(parseInvokeTarget("a/b")).toMatch(/not a function name/);
    expect(parseInvokeTarget("fn:not ok")).toMatch(/is not a version, alias or \*/);
  });
});

describe("context parameters", () => {
  const read = (context: Record<string, unknown>) => propsFromContext(new App({ context }).node);

  it("reads strings as the CLI passes them", () => {
    const r = read({
      databaseSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
      invokeTargets: "seed-db, notify:live",
      terraformStateBucket: "acme-tf-state",
      stateManagerTimeout: "30",
      paused: "true",
      tick: "false",
      releaseDir: "/tmp/release",
      version: "1.2.3",
    });
    expect(r.release).toEqual({ dir: "/tmp/release", version: "1.2.3" });
    expect(r.props).toMatchObject({
      database: { kind: "secret" },
      invokeTargets: ["seed-db", "notify:live"],
      terraform: { stateBucket: "acme-tf-state" },
      stateManager: { timeoutSeconds: 30 },
      paused: true,
      tick: { enabled: false },
    });
    expect(r.stackName).toBe("Stackseam");
  });

  it("lists every problem at once", () => {
    try {
      read({
        stateManagerTimeout: "0",
        architecture: "sparc",
        terraformLayerArn: "arn:x",
        releaseFingerprint: "AB",
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DeployConfigError);
      expect((err as DeployConfigError).problems).toEqual([
        "releaseFingerprint needs releaseKey",
        "no database: give databaseSecretArn=<secret ARN> or aurora=true (with vpcId)",
        'architecture must be x86_64 or arm64, got "sparc"',
        "terraformLayerArn needs terraformStateBucket",
        'stateManagerTimeout must be a whole number from 1 to 900, got "0"',
      ]);
    }
  });
});

describe("docs/deployment.md", () => {
  it("documents every context parameter the app reads", () => {
    const doc = readFileSync(new URL("../../docs/deployment.md", import.meta.url), "utf8");
    const missing = Object.keys(CONTEXT_KEYS).filter((k) => !doc.includes(`| \`${k}\` |`));
    expect(missing).toEqual([]);
  });
});
