import { describe, expect, it } from "vitest";
import { parseEventMessage, parseSpec, validateMetadata } from "../src/index.js";

// Shape errors as an author or publisher reads them (docs/spec-reference.md, "Shape (schema)"):
// each case is a mistake a person makes, and the sentence that must tell them what is wrong.

const spec = (extra: string, states = "  RUN: {terminal: true}\n") =>
  `version: 1\nevents: [LAUNCH]\nstates:\n  INIT:\n    on:\n      LAUNCH: [{action: advance, state: RUN}]\n${states}${extra}`;

/** The error messages of a spec, as "path: message". */
function errors(text: string): string[] {
  return parseSpec(text, { name: "m" })
    .diagnostics.filter((d) => d.severity === "error")
    .map((d) => `${d.path}: ${d.message}`);
}

const lambda = (more: string) => `tasks:\n  t:\n    executor: lambda\n    config: {name: fn}\n${more}`;
const terraform = (more: string) =>
  `tasks:\n  t:\n    executor: terraform\n    config:\n      action: apply\n      source: {type: local, location: ./infra}\n${more}`;

describe("shape errors in a spec", () => {
  it("a task written as a plain string is asked to be a mapping", () => {
    expect(errors(spec("tasks:\n  t: provision\n"))).toEqual([
      'tasks.t: expected a mapping (key: value pairs), got the string "provision"',
    ]);
  });

  it("an action written as a bare word is asked to be a mapping", () => {
    expect(errors(spec("").replace("[{action: advance, state: RUN}]", "[advance]"))).toEqual([
      'states.INIT.on.LAUNCH[0]: expected a mapping (key: value pairs), got the string "advance"',
    ]);
  });

  it("an executor that is not a word gets the list of executors, without a suggestion", () => {
    expect(errors(spec("tasks:\n  t: {executor: 5, config: {name: fn}}\n"))).toEqual([
      "tasks.t.executor: 5 is not an executor: use terraform or lambda",
    ]);
  });

  it("an executor named like an inherited object property is still not an executor", () => {
    expect(errors(spec("tasks:\n  t: {executor: toString, config: {name: fn}}\n"))).toEqual([
      'tasks.t.executor: "toString" is not an executor: use terraform or lambda',
    ]);
  });

  it("retry limits at and past their edges", () => {
    expect(errors(spec(lambda("    retry: {attempts: 100, backoff: 10}\n")))).toEqual([]);
    expect(errors(spec(lambda("    retry: {attempts: 101, backoff: 0.5}\n")))).toEqual([
      "tasks.t.retry.attempts: must be at most 100, got 101",
      "tasks.t.retry.backoff: must be at least 1, got 0.5",
    ]);
  });

  it("an ECS runner's subnet list is bounded on both sides", () => {
    const runner = (subnets: string) =>
      spec(terraform(`    runner: {type: ecs, cluster: c, taskDefinition: td, subnets: ${subnets}}\n`));
    const many = (n: number) => `[${Array.from({ length: n }, (_, i) => `s${i}`).join(", ")}]`;
    expect(errors(runner(many(16)))).toEqual([]);
    expect(errors(runner(many(17)))).toEqual(["tasks.t.runner.subnets: must have at most 16 items"]);
    expect(errors(runner("[]"))).toEqual(["tasks.t.runner.subnets: must have at least 1 items"]);
  });

  it("a runner type other than ecs names the one allowed", () => {
    expect(
      errors(spec(terraform("    runner: {type: fargate, cluster: c, taskDefinition: td, subnets: [s]}\n"))),
    ).toEqual(['tasks.t.runner.type: expected "ecs", got "fargate"']);
  });

  it("a long value in a message is cut, so a pasted blob cannot flood it", () => {
    const blob = "x".repeat(100);
    const [message] = errors(
      spec(terraform(`    runner: {type: {note: ${blob}}, cluster: c, taskDefinition: td, subnets: [s]}\n`)),
    );
    expect(message).toBe(`tasks.t.runner.type: expected "ecs", got {"note":"${"x".repeat(68)}…`);
  });

  it("variables must be scalars: the allowed types are listed", () => {
    expect(
      errors(
        spec(
          "tasks:\n  t:\n    executor: terraform\n    config:\n      action: apply\n      source: {type: local, location: ./infra}\n      variables: {tags: [a]}\n",
        ),
      ),
    ).toEqual(["tasks.t.config.variables.tags: expected a string, number or boolean, got a list"]);
  });

  it("a notification event that is not a word is not one of the kinds", () => {
    expect(
      errors(spec("notifications:\n  - on: [5]\n    sns: {topicArn: 'arn:aws:sns:eu-west-1:1:t'}\n")),
    ).toEqual([
      "notifications[0].on[0]: 5 is not one of task-failed, state-entered, stack-removed, ttl-warning, event-refused",
    ]);
  });

  it("a webhook secret names exactly one source", () => {
    const webhook = (secret: string) =>
      spec(
        `notifications:\n  - on: [task-failed]\n    webhook: {url: 'https://hooks.example', secret: ${secret}}\n`,
      );
    expect(errors(webhook("{env: HOOK_SECRET}"))).toEqual([]);
    expect(errors(webhook("{env: HOOK_SECRET, secretArn: 'arn:aws:secretsmanager:x'}"))).toEqual([
      "notifications[0].webhook.secret: has 2 keys; the limit is 1",
    ]);
    // An empty secret has no sentence of its own: the schema rule is named.
    expect(errors(webhook("{}"))).toEqual([
      "notifications[0].webhook.secret: is not valid here (minProperties rule of the schema)",
    ]);
  });

  it("a state name that is too long is reported at the key", () => {
    const name = "A".repeat(65);
    expect(errors(spec("", `  RUN: {terminal: true}\n  ${name}: {terminal: true}\n`))).toContain(
      `states.${name}: "${name}" is too long: at most 64 characters`,
    );
  });
});

describe("shape errors in an event message", () => {
  const send = (message: object) => parseEventMessage(JSON.stringify({ stackId: "s1", ...message }), "k");

  it("an output that is neither a value nor a sensitive marker matches no allowed shape", () => {
    expect(send({ event: "TASK_COMPLETED", task: "t", token: "tk", outputs: { vpc: 1 } })).toEqual({
      ok: false,
      reason: "outputs.vpc: does not match any of the allowed shapes",
      stackId: "s1",
    });
  });

  it("an output name that cannot be a Terraform output is not an allowed key", () => {
    expect(
      send({
        event: "TASK_COMPLETED",
        task: "t",
        token: "tk",
        outputs: { "9vpc": { value: 1, sensitive: false } },
      }),
    ).toEqual({ ok: false, reason: 'outputs.9vpc: "9vpc" is not an allowed key here', stackId: "s1" });
  });

  it("a TTL that is neither a duration, never nor default does not have the expected form", () => {
    expect(send({ event: "EXTEND_TTL", ttl: "forever" })).toEqual({
      ok: false,
      reason: 'ttl: "forever" does not have the expected form',
      stackId: "s1",
    });
  });

  it("a metadata patch may not nest values", () => {
    expect(send({ event: "X", metadata: { tags: ["a"] } })).toEqual({
      ok: false,
      reason:
        "metadata.tags: nested values are not allowed: metadata values must be strings, numbers or booleans",
      stackId: "s1",
    });
  });
});

describe("flat metadata", () => {
  it("null is refused where it cannot mean removal", () => {
    expect(validateMetadata({ owner: null })).toEqual({
      ok: false,
      reason: "metadata.owner: null is not allowed: metadata values must be strings, numbers or booleans",
    });
  });

  it("a value past 16384 characters is refused with its length", () => {
    expect(validateMetadata({ owner: "x".repeat(16384) }).ok).toBe(true);
    expect(validateMetadata({ owner: "x".repeat(16385) })).toEqual({
      ok: false,
      reason: "metadata.owner: value is 16385 characters long; the limit is 16384 characters",
    });
  });
});
