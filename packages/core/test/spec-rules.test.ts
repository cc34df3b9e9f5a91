import { describe, expect, it } from "vitest";
import { parseSpec } from "../src/index.js";

// The rules a schema cannot express (docs/spec-reference.md): time, flow and notifications. Each
// case is a small valid machine with one mistake; the expected problem is what the reference
// promises for that mistake, at the key that holds it.

/** A valid machine; `extra` adds top-level keys and `tasks`/`states` merge over the base ones. */
function spec(parts: { top?: string; states?: string; tasks?: string } = {}): string {
  return `version: 1
events: [LAUNCH, DESTROY, TOUCH]
${parts.top ?? ""}
states:
  INIT:
    on:
      LAUNCH: [{ action: advance, state: PROVISION }]
  PROVISION:
    tasks: [apply]
    on:
      NEXT: [{ action: advance, state: RUN }]
  RUN:
    tasks: [smoke]
    on:
      NEXT: [{ action: no-op }]
      TOUCH: [{ action: no-op }]
      DESTROY: [{ action: advance, state: GONE }]
  GONE:
    terminal: true
${parts.states ?? ""}
tasks:
  apply: { executor: lambda, config: { name: apply } }
  smoke: { executor: lambda, config: { name: smoke } }
${parts.tasks ?? ""}`;
}

/** The problems of a spec as [severity, path, message]. */
function problems(text: string): [string, string, string][] {
  return parseSpec(text, { name: "m" }).diagnostics.map((d) => [d.severity, d.path, d.message]);
}

describe("the base machine of these tests", () => {
  it("is valid and has no warning", () => {
    expect(problems(spec())).toEqual([]);
  });
});

describe("time rules", () => {
  it("refuses a zero timeout, heartbeat or retry delay", () => {
    const text = spec().replace(
      "apply: { executor: lambda, config: { name: apply } }",
      "apply: { executor: lambda, config: { name: apply }, timeout: 0s, heartbeat: 0m, retry: { attempts: 2, delay: 0s } }",
    );
    expect(problems(text)).toEqual([
      ["error", "tasks.apply.timeout", "must be longer than 0"],
      ["error", "tasks.apply.heartbeat", "must be longer than 0"],
      ["error", "tasks.apply.retry.delay", "must be longer than 0"],
    ]);
  });

  it("refuses a retry maxDelay shorter than its delay", () => {
    const text = spec().replace(
      "apply: { executor: lambda, config: { name: apply } }",
      "apply: { executor: lambda, config: { name: apply }, retry: { attempts: 3, delay: 2m, maxDelay: 1m } }",
    );
    expect(problems(text)).toEqual([
      ["error", "tasks.apply.retry.maxDelay", "maxDelay 1m is shorter than delay 2m"],
    ]);
  });

  it("refuses a retry reason listed twice", () => {
    const text = spec().replace(
      "apply: { executor: lambda, config: { name: apply } }",
      "apply: { executor: lambda, config: { name: apply }, timeout: 5m, retry: { attempts: 3, on: [error, timeout, error] } }",
    );
    expect(problems(text)).toEqual([
      ["error", "tasks.apply.retry.on[2]", '"error" is listed more than once (first as on[0])'],
    ]);
  });

  it("warns that retrying on timeout never happens for a task that cannot time out", () => {
    const text = spec().replace(
      "apply: { executor: lambda, config: { name: apply } }",
      "apply: { executor: lambda, config: { name: apply }, retry: { attempts: 3, on: [timeout] } }",
    );
    expect(problems(text)).toEqual([
      [
        "warning",
        "tasks.apply.retry.on",
        "retries on timeout never happen: task apply has no timeout or heartbeat",
      ],
    ]);
    // A heartbeat alone is enough to time out.
    expect(
      problems(
        spec().replace(
          "apply: { executor: lambda, config: { name: apply } }",
          "apply: { executor: lambda, config: { name: apply }, heartbeat: 1m, retry: { attempts: 3, on: [timeout] } }",
        ),
      ),
    ).toEqual([]);
  });

  it("warns about a machine TTL whose event no state handles", () => {
    expect(problems(spec({ top: "ttl: { idle: 3d, event: DESTROY }" }))).toEqual([]);
    const unhandled = spec({ top: "ttl: { idle: 3d, event: EXPIRE }" }).replace(
      "events: [LAUNCH, DESTROY, TOUCH]",
      "events: [LAUNCH, DESTROY, TOUCH, EXPIRE]",
    );
    expect(problems(unhandled)).toContainEqual([
      "warning",
      "ttl.event",
      "the TTL never fires: no state handles EXPIRE, and it applies only in states that do",
    ]);
  });

  it("needs idle or age, a known event, and a warning shorter than the TTL", () => {
    expect(problems(spec({ top: "ttl: { event: DESTROY }" }))).toEqual([
      ["error", "ttl", "a TTL needs idle, age or both: how long a stack may sit unused, or live at all"],
    ]);
    expect(problems(spec({ top: "ttl: { idle: 3d, event: DESTORY }" }))).toEqual([
      ["error", "ttl.event", '"DESTORY" is not an event of this machine (events: LAUNCH, DESTROY, TOUCH)'],
    ]);
    expect(problems(spec({ top: "ttl: { idle: 3d, age: 1d, event: DESTROY, warn: 1d }" }))).toEqual([
      ["error", "ttl.warn", "warn 1d is not shorter than the TTL itself, so the warning would come at once"],
    ]);
    expect(problems(spec({ top: "ttl: { age: 2h, event: DESTROY, warn: 1h }" }))).toEqual([]);
  });

  it("refuses a state TTL whose event the state does not handle", () => {
    const text = spec().replace(
      "    tasks: [smoke]\n",
      "    tasks: [smoke]\n    ttl: { idle: 1h, event: LAUNCH }\n",
    );
    expect(problems(text)).toEqual([
      [
        "error",
        "states.RUN.ttl.event",
        "RUN does not handle LAUNCH, so its TTL could never move the stack: add on.LAUNCH",
      ],
    ]);
    const handled = spec().replace(
      "    tasks: [smoke]\n",
      "    tasks: [smoke]\n    ttl: { idle: 1h, event: DESTROY }\n",
    );
    expect(problems(handled)).toEqual([]);
  });

  it("checks schedules: unique names, cron and time zone, known event and states", () => {
    const top = `schedules:
  - { name: nightly, cron: "0 2 * * *", timezone: Europe/Berlin, event: DESTROY, states: [RUN] }
  - { name: nightly, cron: "0 3 * * *", timezone: UTC, event: DESTROY, states: [RUN] }
  - { cron: "61 2 * * *", timezone: UTC, event: DESTROY, states: [RUN] }
  - { cron: "0 2 * * *", timezone: Mars/Olympus, event: DESTROY, states: [RUN] }
  - { cron: "0 2 * * *", timezone: UTC, event: DESTROY, states: [RUNN, INIT] }`;
    const found = problems(spec({ top }));
    expect(found.map(([severity, path]) => [severity, path])).toEqual([
      ["error", "schedules[1].name"],
      ["error", "schedules[2].cron"],
      ["error", "schedules[3].timezone"],
      ["error", "schedules[4].states[0]"],
    ]);
    expect(found[0]?.[2]).toBe('schedule "nightly" is defined more than once (first as schedules[0])');
    expect(found[3]?.[2]).toBe('"RUNN" is not a state of this machine (states: INIT, PROVISION, RUN, GONE)');
  });

  it("warns about a schedule state that does not handle the schedule's event", () => {
    const top = `schedules:
  - { cron: "0 2 * * *", timezone: UTC, event: DESTROY, states: [RUN, PROVISION] }`;
    expect(problems(spec({ top }))).toEqual([
      [
        "warning",
        "schedules[0].states[1]",
        "PROVISION does not handle DESTROY: the schedule's event is refused for stacks there",
      ],
    ]);
  });
});

describe("deferred events", () => {
  it("refuses deferring NEXT, and a defer beside other actions", () => {
    const text = spec().replace(
      "      NEXT: [{ action: advance, state: RUN }]\n",
      "      NEXT: [{ action: defer }]\n      TOUCH: [{ action: no-op }, { action: defer }]\n",
    );
    expect(problems(text)).toEqual([
      [
        "error",
        "states.PROVISION.on.NEXT[0]",
        "NEXT cannot be deferred: the engine fires it when the state's tasks are satisfied",
      ],
      [
        "error",
        "states.PROVISION.on.TOUCH[1]",
        "defer must be the only action of its handler: a deferred event does nothing now",
      ],
    ]);
  });

  it("warns about a deferral no later state picks up", () => {
    const text = spec().replace(
      "      NEXT: [{ action: advance, state: RUN }]\n",
      "      NEXT: [{ action: advance, state: RUN }]\n      LAUNCH: [{ action: defer }]\n",
    );
    expect(problems(text)).toEqual([
      [
        "warning",
        "states.PROVISION.on.LAUNCH[0]",
        "no state reachable from PROVISION handles LAUNCH, so a deferred LAUNCH is refused when it is offered again",
      ],
    ]);
  });
});

describe("task inputs", () => {
  const withInputs = (inputs: string) =>
    spec().replace(
      "smoke: { executor: lambda, config: { name: smoke } }",
      `smoke: { executor: lambda, config: { name: smoke }, inputs: ${inputs} }`,
    );

  it("accepts an output of a task that runs in an earlier state", () => {
    expect(problems(withInputs("{ url: apply.url }"))).toEqual([]);
  });

  it("names an unknown task, with the closest one", () => {
    expect(problems(withInputs("{ url: aply.url }"))).toEqual([
      [
        "error",
        "tasks.smoke.inputs.url",
        'task "aply" is not defined (tasks: apply, smoke); did you mean "apply"?',
      ],
    ]);
    expect(problems(withInputs("{ url: zzzzzz.url }"))).toEqual([
      ["error", "tasks.smoke.inputs.url", 'task "zzzzzz" is not defined (tasks: apply, smoke)'],
    ]);
  });

  it("refuses a task's own outputs, a task no state runs, and one that does not run before", () => {
    expect(problems(withInputs("{ url: smoke.url }"))).toEqual([
      ["error", "tasks.smoke.inputs.url", "a task cannot take an input from its own outputs"],
    ]);
    const unused = withInputs("{ url: spare.url }").replace(
      "tasks:\n",
      "tasks:\n  spare: { executor: lambda, config: { name: spare } }\n",
    );
    expect(problems(unused)).toEqual([
      [
        "error",
        "tasks.smoke.inputs.url",
        "task spare is not run by any state, so spare.url never has a value",
      ],
    ]);
    const sameState = withInputs("{ url: apply.url }").replace(
      "    tasks: [apply]\n",
      "    tasks: [apply, smoke]\n",
    );
    expect(problems(sameState)).toContainEqual([
      "error",
      "tasks.smoke.inputs.url",
      "task apply runs at the same time as smoke (both in PROVISION), not before it",
    ]);
    const after = spec().replace(
      "apply: { executor: lambda, config: { name: apply } }",
      "apply: { executor: lambda, config: { name: apply }, inputs: { url: smoke.url } }",
    );
    expect(problems(after)).toEqual([
      [
        "error",
        "tasks.apply.inputs.url",
        "task smoke does not run before apply: no state that runs it leads to PROVISION",
      ],
    ]);
  });
});

describe("notifications", () => {
  const hook = "webhook: { url: 'https://hooks.example.com/x', secret: { env: HOOK_SECRET } }";

  it("needs exactly one target", () => {
    expect(problems(spec({ top: "notifications:\n  - { on: [task-failed] }" }))).toEqual([
      ["error", "notifications[0]", "a notification needs a target: webhook, sns or eventbridge"],
    ]);
    const two = `notifications:\n  - { on: [task-failed], ${hook}, sns: { topicArn: 'arn:aws:sns:eu-west-1:123456789012:t' } }`;
    expect(problems(spec({ top: two }))).toEqual([
      [
        "error",
        "notifications[0]",
        "a notification has one target, this one has webhook and sns: split it in two",
      ],
    ]);
  });

  it("refuses a repeated name or kind and an unknown state; warns when states narrows nothing", () => {
    const top = `notifications:
  - { name: ops, on: [task-failed, task-failed], ${hook} }
  - { name: ops, on: [state-entered], states: [RUN, RUNN], ${hook} }`;
    expect(problems(spec({ top }))).toEqual([
      ["error", "notifications[0].on[1]", '"task-failed" is listed more than once (first as on[0])'],
      [
        "error",
        "notifications[1].name",
        'notification "ops" is defined more than once (first as notifications[0])',
      ],
      [
        "error",
        "notifications[1].states[1]",
        '"RUNN" is not a state of this machine (states: INIT, PROVISION, RUN, GONE)',
      ],
    ]);
    const narrowsNothing = `notifications:\n  - { on: [task-failed], states: [RUN], ${hook} }`;
    expect(problems(spec({ top: narrowsNothing }))).toEqual([
      [
        "warning",
        "notifications[0].states",
        "states only narrows state-entered, which this notification does not include",
      ],
    ]);
  });
});
