import { describe, expect, it } from "vitest";
import { parseSpec } from "../src/index.js";

// The semantic rules read the spec before they know its shape is right (docs/spec-reference.md,
// "Diagnostics"): a spec with the wrong kinds of values everywhere must get the schema's one
// sentence per spot, and no second, confused message from a rule.

const diagnostics = (text: string) =>
  parseSpec(text, { name: "m" }).diagnostics.map(
    (d) => `${d.severity} ${d.line}:${d.column} ${d.path}: ${d.message}`,
  );

describe("a spec with wrong kinds of values", () => {
  it("gets one shape error per spot, whatever the rules would read there", () => {
    const text = `version: 1
events: [LAUNCH, 5]
states:
  INIT:
    on:
      LAUNCH: [{action: advance, state: run}, 5]
      TOUCH: 5
  RUN:
  DONE: {terminal: true}
tasks:
  t: x
  u: {executor: lambda, config: {name: fn}, inputs: {a: 5, b: nodot}}
schedules: [5, {cron: "0 19 * * 1-5", timezone: 5, event: LAUNCH, states: [5]}, {cron: "0 19 * * 1-5", event: LAUNCH, states: DONE}, {cron: 5, event: LAUNCH, states: [RUN]}]
notifications: [5, {on: task-failed, sns: {topicArn: "arn:aws:sns:eu-west-1:1:t"}}]
`;
    expect(diagnostics(text)).toEqual([
      "error 2:18 events[1]: expected a string, got the number 5",
      'error 6:41 states.INIT.on.LAUNCH[0].state: "run" is not a valid state name: use upper-case letters, digits and dashes (like RUN)',
      "error 6:47 states.INIT.on.LAUNCH[1]: expected a mapping (key: value pairs), got the number 5",
      "error 7:14 states.INIT.on.TOUCH: expected a list, got the number 5",
      "error 8:3 states.RUN: expected a mapping (key: value pairs), got nothing (an empty value)",
      'error 11:6 tasks.t: expected a mapping (key: value pairs), got the string "x"',
      "error 12:57 tasks.u.inputs.a: expected a string, got the number 5",
      'error 12:63 tasks.u.inputs.b: "nodot" is not an output reference: use <task>.<output>, like network.vpc_id',
      "error 13:13 schedules[0]: expected a mapping (key: value pairs), got the number 5",
      "error 13:49 schedules[1].timezone: expected a string, got the number 5",
      "error 13:76 schedules[1].states[0]: expected a string, got the number 5",
      'error 13:127 schedules[2].states: expected a list, got the string "DONE"',
      "error 13:141 schedules[3].cron: expected a string, got the number 5",
      "error 14:17 notifications[0]: expected a mapping (key: value pairs), got the number 5",
      'error 14:25 notifications[1].on: expected a list, got the string "task-failed"',
    ]);
  });

  it("a machine without events says so when a TTL names one", () => {
    const text =
      "version: 1\nevents: []\nttl: {event: GO, idle: 1h}\nstates:\n  INIT: {}\n  DONE: {terminal: true}\n";
    expect(diagnostics(text).filter((d) => d.startsWith("error"))).toEqual([
      'error 3:14 ttl.event: "GO" is not an event of this machine (events: none)',
    ]);
  });
});
