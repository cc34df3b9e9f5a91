import { describe, expect, it } from "vitest";
import { type Decision, MAX_METADATA_KEYS, type Stack } from "../src/index.js";
import { appliedDecision as applied, decide, ev, fakeDeps, machineFrom } from "./support.js";

const SPEC = `
version: 1
events: [LAUNCH, TOUCH, DESTROY, DEPLOY]
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: NETWORK }]
  NETWORK:
    tasks: [network]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    on:
      TOUCH: [{ action: no-op }]
      DEPLOY: [{ action: advance, state: DEPLOYING }]
      DESTROY: [{ action: advance, state: TEARDOWN }]
  DEPLOYING:
    tasks: [app]
    on:
      NEXT: [{ action: advance, state: RUN }]
      DESTROY: [{ action: advance, state: TEARDOWN }]
  TEARDOWN:
    terminal: true
    tasks: [destroy]
tasks:
  network:
    executor: terraform
    config: { action: apply, source: { type: local, location: ./network } }
    runner: { type: ecs, cluster: build, taskDefinition: "terraform:3", subnets: [subnet-1] }
  app:
    executor: lambda
    config: { name: deploy-app }
    inputs: { vpc_id: network.vpc_id, cidrs: network.cidrs, secret: network.db_password }
  destroy:
    executor: lambda
    config: { name: destroy }
`;
const machine = machineFrom(SPEC, "m");

const next = (d: Decision): Stack => applied(d).stack!;

/** A stack in RUN whose network task reported `outputs`. */
function inRun(outputs: Record<string, unknown> | undefined, deps = fakeDeps()) {
  const launched = next(decide(machine, null, ev("LAUNCH", { machine: "m" }), deps));
  const token = launched.tasks[0]!.token;
  const done = applied(
    decide(
      machine,
      launched,
      ev("TASK_COMPLETED", { task: "network", token, ...(outputs ? { outputs: outputs as never } : {}) }),
      deps,
    ),
  );
  return { stack: done.stack!, done, launched, deps };
}

describe("metadata limits hold for the merged metadata", () => {
  const many = (from: number, count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${from + i}`, "v"]));

  it("refuses the event that would take a stack past 100 keys, and null removes keys", () => {
    const { stack: running, deps } = inRun(undefined);
    const launched = next(
      decide(machine, running, ev("TOUCH", { key: "first", metadata: many(0, 60) }), deps),
    );
    const refused = decide(machine, launched, ev("TOUCH", { metadata: many(60, 41) }), deps);
    expect(refused).toMatchObject({
      outcome: "refused",
      reason: `the stack's metadata would have ${MAX_METADATA_KEYS + 1} keys, over the limit of ${MAX_METADATA_KEYS}; remove keys by sending them with null`,
    });
    // Remove one, and the same addition fits.
    const trimmed = next(decide(machine, launched, ev("TOUCH", { metadata: { k0: null } }), deps));
    expect(Object.keys(trimmed.metadata)).toHaveLength(59);
    expect(trimmed.metadata.k0).toBeUndefined();
    expect(decide(machine, trimmed, ev("TOUCH", { metadata: many(60, 41) }), deps).outcome).toBe("applied");
  });

  /** TOUCHes a running stack with one more `value` each time until one is refused: which one, and why. */
  function growUntilRefused(name: string, value: string, tries: number) {
    let { stack, deps } = inRun(undefined);
    for (let i = 0; i < tries; i++) {
      const d = decide(
        machine,
        stack,
        ev("TOUCH", { key: `${name}${i}`, metadata: { [`${name}${i}`]: value } }),
        deps,
      );
      if (d.outcome === "refused") return { refusedAt: i, reason: d.reason };
      stack = applied(d).stack!;
    }
    return { refusedAt: -1, reason: "" };
  }

  it("refuses growth past the byte limit, counted over the whole merged metadata", () => {
    const { refusedAt, reason } = growUntilRefused("blob", "x".repeat(15_000), 12);
    expect(reason).toMatch(
      /over its limit of 131072: its task messages would go over the SQS limit of 262144 bytes/,
    );
    // Eight values of 15,000 characters fit in 128 KiB with their keys and quotes; a ninth does not.
    expect(refusedAt).toBe(8);
  });

  it("counts the byte limit in UTF-8 bytes: three-byte characters fill it three times as fast", () => {
    // 15,000 × "€" is 15,000 characters but 45,000 bytes.
    const { refusedAt, reason } = growUntilRefused("euro", "€".repeat(15_000), 4);
    expect(reason).toMatch(/would take 135\d{3} bytes, over its limit of 131072/);
    // Two values fit (90,000 bytes and change); a third does not, though its characters would.
    expect(refusedAt).toBe(2);
  });

  it("a stack already past the byte limit takes events that shrink it, not ones that grow it", () => {
    const deps = fakeDeps();
    const { stack } = inRun(undefined, deps);
    // Written by a release without the limit: ten values of 14,000 characters, 140,000 bytes and more.
    const legacy: Stack = {
      ...stack,
      metadata: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`big${i}`, "x".repeat(14_000)])),
    };
    expect(
      decide(machine, legacy, ev("TOUCH", { key: "shrink", metadata: { big0: null } }), deps).outcome,
    ).toBe("applied");
    // Replacing a value with one as long keeps the size: not growth either.
    expect(
      decide(machine, legacy, ev("TOUCH", { key: "same", metadata: { big1: "y".repeat(14_000) } }), deps)
        .outcome,
    ).toBe("applied");
    expect(
      decide(machine, legacy, ev("TOUCH", { key: "grow", metadata: { more: "z" } }), deps),
    ).toMatchObject({
      outcome: "refused",
      reason: expect.stringMatching(
        /^the stack's metadata would take 1401\d\d bytes, over its limit of 131072/,
      ),
    });
  });

  it("a stack already past the key limit still takes events that do not grow it, and its tasks fail visibly", () => {
    const deps = fakeDeps();
    const { stack } = inRun({ vpc_id: { value: "vpc-1", sensitive: false } }, deps);
    // Written by a release without the limit.
    const legacy: Stack = {
      ...stack,
      metadata: Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`k${i}`, i])),
    };
    expect(decide(machine, legacy, ev("TOUCH"), deps).outcome).toBe("applied");
    const destroying = applied(decide(machine, legacy, ev("DESTROY"), deps));
    // The stack moved on; the task that cannot be sent failed at once, saying what to do.
    expect(destroying.to).toBe("TEARDOWN");
    expect(destroying.tasks).toEqual([]);
    expect(destroying.stack?.tasks[0]).toMatchObject({ name: "destroy", status: "ERROR" });
    expect(destroying.stack?.tasks[0]?.description).toMatch(
      /^not dispatched: the stack's metadata has 150 keys, over the limit of 100: remove keys by sending them with null, then RETRY_FAILED_TASKS$/,
    );
    // A retry that carries the removals shrinks the metadata and goes out.
    const shrink = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, null]));
    const retried = applied(
      decide(machine, destroying.stack!, ev("RETRY_FAILED_TASKS", { metadata: shrink }), deps),
    );
    expect(Object.keys(retried.stack!.metadata)).toHaveLength(90);
    expect(retried.tasks.map((t) => t.task)).toEqual(["destroy"]);
  });
});

describe("outputs and inputs", () => {
  it("keeps a task's outputs (sensitive ones by name only) and records what changed", () => {
    const { stack, done } = inRun({
      vpc_id: { value: "vpc-1", sensitive: false },
      db_password: { sensitive: true },
    });
    expect(stack.outputs).toEqual({
      network: { vpc_id: { value: "vpc-1", sensitive: false }, db_password: { sensitive: true } },
    });
    expect(done.detail.outputsChanged).toEqual(["db_password", "vpc_id"]);
  });

  it("resolves inputs from earlier outputs at dispatch; JSON for non-scalars", () => {
    const { stack, deps } = inRun({
      vpc_id: { value: "vpc-1", sensitive: false },
      cidrs: { value: ["10.0.0.0/16"], sensitive: false },
      db_password: { value: "not-really-secret", sensitive: false },
    });
    const deploying = applied(decide(machine, stack, ev("DEPLOY"), deps));
    expect(deploying.tasks[0]?.message.inputs).toEqual({
      vpc_id: "vpc-1",
      cidrs: '["10.0.0.0/16"]',
      secret: "not-really-secret",
    });
  });

  it("fails the task at dispatch, with the reason, when an input has no value or is sensitive", () => {
    const missing = inRun({ cidrs: { value: [], sensitive: false } });
    const d1 = applied(decide(machine, missing.stack, ev("DEPLOY"), missing.deps));
    expect(d1.tasks).toEqual([]);
    expect(d1.stack?.tasks[0]).toMatchObject({
      name: "app",
      status: "ERROR",
      description: "not dispatched: input vpc_id: task network has no output vpc_id (its outputs: cidrs)",
    });
    expect(d1.detail.notDispatched).toEqual([
      { task: "app", reason: "input vpc_id: task network has no output vpc_id (its outputs: cidrs)" },
    ]);

    const sensitive = inRun({
      vpc_id: { value: "v", sensitive: false },
      cidrs: { value: "c", sensitive: false },
      db_password: { sensitive: true },
    });
    const d2 = applied(decide(machine, sensitive.stack, ev("DEPLOY"), sensitive.deps));
    expect(d2.stack?.tasks[0]?.description).toBe(
      "not dispatched: input secret: output network.db_password is sensitive, and Stackseam never keeps the value of a sensitive output",
    );
  });

  it("copies a task's runner into its task message", () => {
    const d = applied(decide(machine, null, ev("LAUNCH", { machine: "m" }), fakeDeps()));
    expect(d.tasks[0]?.message.runner).toEqual({
      type: "ecs",
      cluster: "build",
      taskDefinition: "terraform:3",
      subnets: ["subnet-1"],
    });
  });
});
