import { backendKey, terraformArgs } from "@stackseam/task-satisfier";
import { describe, expect, it } from "vitest";
import type { TerraformConfig } from "../src/config-types.js";
import { parseTerraformConfig } from "../src/task-config.js";
import { terraformTask } from "./support.js";

const s3Source = { type: "s3", bucket: "tf-scripts", key: "qa-env/infra" } as const;

function argsFor(
  config: Record<string, unknown>,
  metadata: Record<string, string | number | boolean> = {},
  inputs?: Record<string, string | number | boolean>,
) {
  const task = terraformTask({ config, metadata, ...(inputs ? { inputs } : {}) });
  const parsed = parseTerraformConfig(task.config);
  if (!parsed.ok) throw new Error(parsed.reason);
  return terraformArgs(task, parsed.config, {
    backendConfig: [["key", backendKey(task.machine, task.stackId, parsed.config.source)]],
  });
}

describe("terraform command line", () => {
  it("builds the exact init and apply argv", () => {
    const args = argsFor(
      { action: "apply", source: s3Source },
      { apiImageTag: "e724e90", replicas: 2, public: true },
    );
    expect(args.init).toEqual([
      "init",
      "-input=false",
      "-no-color",
      "-backend-config=key=qa-env/feature-123/qa-env/infra",
    ]);
    expect(args.run).toEqual([
      "apply",
      "-auto-approve",
      "-input=false",
      "-no-color",
      "-lock-timeout=300s",
      "-var",
      "stack_id=feature-123",
      "-var",
      "apiImageTag=e724e90",
      "-var",
      "replicas=2",
      "-var",
      "public=true",
    ]);
  });

  it("builds the exact destroy argv", () => {
    const args = argsFor({ action: "destroy", source: s3Source });
    expect(args.run).toEqual([
      "destroy",
      "-auto-approve",
      "-input=false",
      "-no-color",
      "-lock-timeout=300s",
      "-var",
      "stack_id=feature-123",
    ]);
  });

  it("lets task variables win over metadata of the same name, after the metadata", () => {
    const args = argsFor(
      { action: "apply", source: s3Source, variables: { region: "eu-west-1", apiImageTag: "pinned" } },
      { apiImageTag: "e724e90", owner: "ann" },
    );
    expect(args.run.slice(5)).toEqual([
      "-var",
      "stack_id=feature-123",
      "-var",
      "owner=ann",
      "-var",
      "region=eu-west-1",
      "-var",
      "apiImageTag=pinned",
    ]);
  });

  it("passes only the metadata keys listed in metadataVariables (task variables still pass)", () => {
    const args = argsFor(
      { action: "apply", source: s3Source, metadataVariables: ["owner", "absent"], variables: { size: 3 } },
      { apiImageTag: "e724e90", owner: "ann", secretish: "x" },
    );
    expect(args.run.slice(5)).toEqual([
      "-var",
      "stack_id=feature-123",
      "-var",
      "owner=ann",
      "-var",
      "size=3",
    ]);
  });

  it("never lets a task variable replace stack_id", () => {
    const args = argsFor({ action: "apply", source: s3Source, variables: { stack_id: "other" } });
    expect(args.run.filter((a) => a.startsWith("stack_id="))).toEqual(["stack_id=feature-123"]);
  });

  it("keeps hostile metadata as one literal argument each", () => {
    const hostile = { a: "'; touch /tmp/pwned #", b: "$(id)", c: "x\ny -var evil=1" };
    const args = argsFor({ action: "apply", source: s3Source }, hostile);
    expect(args.run).toContain("a='; touch /tmp/pwned #");
    expect(args.run).toContain("b=$(id)");
    expect(args.run).toContain("c=x\ny -var evil=1");
    expect(args.run.filter((a) => a === "-var")).toHaveLength(4);
  });

  it("lets inputs from earlier tasks win over task variables and metadata, passed last", () => {
    const args = argsFor(
      { action: "apply", source: s3Source, variables: { vpc_id: "static", region: "eu-west-1" } },
      { vpc_id: "from-meta", owner: "ann" },
      { vpc_id: "vpc-123", subnet_count: 3, stack_id: "nope" },
    );
    expect(args.run.slice(5)).toEqual([
      "-var",
      "stack_id=feature-123",
      "-var",
      "owner=ann",
      "-var",
      "region=eu-west-1",
      "-var",
      "vpc_id=vpc-123",
      "-var",
      "subnet_count=3",
    ]);
  });

  it("reads the outputs after an apply, and only after an apply", () => {
    expect(argsFor({ action: "apply", source: s3Source }).output).toEqual(["output", "-json", "-no-color"]);
  });

  it("normalises the backend key: an S3 prefix written with a trailing / (issue 12, defect 6)", () => {
    // Terraform's S3 backend rejects a key that ends (or starts) with "/" or holds "//".
    expect(backendKey("qa-env", "s-1", { type: "s3", bucket: "b", key: "infra/qa/" })).toBe(
      "qa-env/s-1/infra/qa",
    );
    expect(backendKey("qa-env", "s-1", { type: "s3", bucket: "b", key: "/infra//qa/" })).toBe(
      "qa-env/s-1/infra/qa",
    );
    expect(argsFor({ action: "apply", source: { ...s3Source, key: "qa-env/infra/" } }).init[3]).toBe(
      "-backend-config=key=qa-env/feature-123/qa-env/infra",
    );
  });

  it("names the backend key after machine, stack and source", () => {
    expect(backendKey("qa-env", "s-1", { type: "local", location: "/opt/tf/qa" })).toBe(
      "qa-env/s-1/opt/tf/qa",
    );
    expect(backendKey("qa-env", "s-1", { type: "local", location: "./tf/qa" })).toBe("qa-env/s-1/tf/qa");
  });
});

describe("terraform config checks", () => {
  it("accepts a valid config", () => {
    const parsed = parseTerraformConfig({ action: "destroy", source: { type: "local", location: "/tf" } });
    expect(parsed).toEqual({
      ok: true,
      config: { action: "destroy", source: { type: "local", location: "/tf" } },
    });
  });

  it("lists every problem of a bad config", () => {
    const parsed = parseTerraformConfig({
      action: "plan",
      source: { type: "git", url: "x" },
      variables: { "bad name": 1, nested: { a: 1 } },
      extra: true,
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reason).toContain('config.action must be "apply" or "destroy"');
    expect(parsed.reason).toContain('config.source.type must be "s3" or "local"');
    expect(parsed.reason).toContain('"bad name" is not a valid variable name');
    expect(parsed.reason).toContain("config.variables.nested must be a string, number or boolean");
    expect(parsed.reason).toContain('unknown key "extra"');
  });

  it("types a parsed config", () => {
    const parsed = parseTerraformConfig({ action: "apply", source: s3Source, metadataVariables: ["a"] });
    const expected: TerraformConfig = { action: "apply", source: s3Source, metadataVariables: ["a"] };
    expect(parsed).toEqual({ ok: true, config: expected });
  });
});
