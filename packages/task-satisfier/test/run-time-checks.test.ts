// A task message may come from an older spec or a hand-written file, so the satisfier checks its
// runner and config again before running anything; each refusal becomes the TASK_ERROR's
// description, so it has to say what is wrong (docs/spec-reference.md: runner, terraform, lambda).
import { parseRunnerSpec } from "@stackseam/task-satisfier";
import { describe, expect, it } from "vitest";
import { parseLambdaConfig, parseTerraformConfig } from "../src/task-config.js";

const ecs = { type: "ecs", cluster: "c", taskDefinition: "td:1", subnets: ["subnet-1"] };

describe("the runner of a task message", () => {
  it.each([
    [null, "invalid runner: it must be an object such as {type: ecs, cluster, …}"],
    [["ecs"], "invalid runner: it must be an object such as {type: ecs, cluster, …}"],
    [{ type: "fargate" }, 'invalid runner: unknown type "fargate" (known: ecs)'],
    [
      { type: "ecs", subnets: [] },
      "invalid ecs runner: cluster (name or ARN) is required; taskDefinition (family[:revision] or ARN) is required; subnets must list 1 to 16 subnet ids",
    ],
    [{ ...ecs, image: "x" }, 'invalid ecs runner: unknown key "image"'],
    [
      { ...ecs, securityGroups: ["a", "b", "c", "d", "e", "f"] },
      "invalid ecs runner: securityGroups must list at most 5 security group ids",
    ],
    [{ ...ecs, assignPublicIp: "yes" }, "invalid ecs runner: assignPublicIp must be true or false"],
    [{ ...ecs, containerName: " " }, "invalid ecs runner: containerName must be a name"],
  ])("refuses %j", (runner, reason) => {
    expect(parseRunnerSpec(runner)).toEqual({ ok: false, reason });
  });

  it("defaults the container name, the security groups and the public IP", () => {
    expect(parseRunnerSpec(ecs)).toEqual({
      ok: true,
      spec: { ...ecs, securityGroups: [], assignPublicIp: false, containerName: "stackseam-runner" },
    });
    expect(parseRunnerSpec({ ...ecs, containerName: "tf", assignPublicIp: true })).toMatchObject({
      ok: true,
      spec: { containerName: "tf", assignPublicIp: true },
    });
  });
});

describe("a terraform task's config", () => {
  it.each([
    ["apply", "invalid terraform config: it must be an object"],
    [
      { action: "apply", source: { type: "s3", bucket: "", key: 3 } },
      "invalid terraform config: config.source.bucket is required; config.source.key is required",
    ],
    [
      { action: "apply", source: { type: "local", location: "" } },
      "invalid terraform config: config.source.location is required",
    ],
    [
      { action: "apply", source: { type: "local", location: "/tf" }, variables: ["a=1"] },
      "invalid terraform config: config.variables must be a flat map of names to strings, numbers or booleans",
    ],
    [
      { action: "apply", source: { type: "local", location: "/tf" }, metadataVariables: "apiImageTag" },
      "invalid terraform config: config.metadataVariables must be a list of metadata key names",
    ],
  ])("refuses %j", (config, reason) => {
    expect(parseTerraformConfig(config)).toEqual({ ok: false, reason });
  });
});

describe("a lambda task's config", () => {
  it.each([
    [[], "invalid lambda config: it must be an object"],
    [
      { name: "notify", qualifier: "" },
      "invalid lambda config: config.qualifier must be a version or alias name",
    ],
    [
      { name: "notify", qualifier: 3 },
      "invalid lambda config: config.qualifier must be a version or alias name",
    ],
  ])("refuses %j", (config, reason) => {
    expect(parseLambdaConfig(config)).toEqual({ ok: false, reason });
  });
});
