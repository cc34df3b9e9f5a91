import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDiagnostic, parseSpec, parseSpecOrThrow, SpecError } from "../src/index.js";

const fixture = (dir: string, name: string) =>
  readFileSync(new URL(`./fixtures/${dir}/${name}`, import.meta.url), "utf8");
const list = (dir: string) =>
  readdirSync(new URL(`./fixtures/${dir}/`, import.meta.url)).filter((f) => f.endsWith(".yml"));

type Expected = [path: string, line: number, column: number, message: string];

// Every invalid fixture with the exact diagnostics it must produce (errors only: warnings are
// withheld while a spec has errors).
const INVALID: Record<string, Expected[]> = {
  "advance-unknown-state.yml": [
    [
      "states.PROVISION.on.NEXT[0].state",
      12,
      18,
      '"RUNN" is not a state of this machine (states: INIT, PROVISION, RUN, TEARDOWN); did you mean "RUN"?',
    ],
  ],
  "bad-action.yml": [
    [
      "states.INIT.on.LAUNCH[0].action",
      7,
      19,
      '"advnce" is not an action (did you mean "advance"?): use advance, no-op or defer',
    ],
    ["states.INIT.on.TOUCH[0].state", 11, 11, 'unknown key "state" (allowed keys: action)'],
    ["states.INIT.on.TOUCH[1]", 12, 11, 'missing required key "action" (use advance, no-op or defer)'],
  ],
  "bad-executor.yml": [
    [
      "tasks.provision.executor",
      12,
      15,
      '"lamda" is not an executor (did you mean "lambda"?): use terraform or lambda',
    ],
    ["tasks.other", 15, 3, 'missing required key "executor" (use terraform or lambda)'],
  ],
  "bad-task-name.yml": [
    [
      "states.DONE.tasks[0]",
      9,
      13,
      '"clean up" is not a valid task name: use letters, digits, dots, underscores and dashes, starting with a letter or digit',
    ],
    [
      'tasks["clean up"]',
      11,
      3,
      '"clean up" is not a valid task name: use letters, digits, dots, underscores and dashes, starting with a letter or digit',
    ],
  ],
  "duplicate-event.yml": [
    ["events[2]", 5, 5, 'event "LAUNCH" is listed more than once (first as events[0])'],
  ],
  "duplicate-state.yml": [["states.RUN", 10, 3, 'state "RUN" is defined more than once (first at line 7)']],
  "duplicate-task-in-state.yml": [
    ["states.DONE.tasks[1]", 9, 22, 'task "cleanup" is listed more than once in DONE'],
    ["tasks.cleanup", 14, 3, 'task "cleanup" is defined more than once (first at line 11)'],
  ],
  "empty.yml": [["", 1, 1, "the spec is empty: expected a mapping with version, events and states"]],
  "lambda-config.yml": [
    ["tasks.notify.config", 13, 5, 'missing required key "name"'],
    ["tasks.notify.config.function", 14, 7, 'unknown key "function" (allowed keys: name, qualifier, args)'],
    ["tasks.notify.config.args", 15, 7, "expected a mapping (key: value pairs), got a list"],
  ],
  "lowercase-event.yml": [
    [
      "events[0]",
      3,
      5,
      '"launch" is not a valid event name: use upper-case letters, digits and dashes (like LAUNCH)',
    ],
    [
      "events[1]",
      4,
      5,
      "TASK_COMPLETED is a system event: the engine always understands it, so do not declare it",
    ],
  ],
  "lowercase-state.yml": [
    [
      "states.Provision",
      7,
      3,
      '"Provision" is not a valid state name: use upper-case letters, digits and dashes (like PROVISION)',
    ],
  ],
  "merged-listener-error.yml": [
    [
      "states.RUN.on.DESTROY[0].state",
      6,
      14,
      '"TEARDOWM" is not a state of this machine (states: INIT, RUN, TEARDOWN); did you mean "TEARDOWN"?',
    ],
  ],
  "missing-init.yml": [
    ["states", 3, 1, 'there is no INIT state: every stack starts in INIT; did you mean "Init"?'],
    [
      "states.Init",
      4,
      3,
      '"Init" is not a valid state name: use upper-case letters, digits and dashes (like INIT)',
    ],
  ],
  "missing-states.yml": [
    ["", 1, 1, 'missing required key "states"'],
    ["state", 3, 1, 'unknown key "state" (did you mean "states"?)'],
  ],
  "multiple-documents.yml": [
    [
      "",
      5,
      1,
      "YAML syntax error: the file holds several YAML documents (separated by ---); a spec is a single document",
    ],
  ],
  "next-declared.yml": [
    [
      "events[1]",
      2,
      18,
      "NEXT cannot be declared: the engine fires it itself when a state's tasks are all satisfied",
    ],
    [
      "states.INIT.on.TASK_COMPLETED",
      7,
      7,
      "TASK_COMPLETED is a system event: the engine handles it, so a state cannot",
    ],
  ],
  "no-tasks-section.yml": [
    ["states.DONE.tasks[0]", 9, 13, 'task "cleanup" is not defined: the spec has no tasks section'],
  ],
  "no-terminal.yml": [
    [
      "states",
      3,
      1,
      'no state is terminal: mark at least one state "terminal: true" so that stacks can finish',
    ],
  ],
  "tasks-without-next.yml": [
    [
      "states.PROVISION",
      7,
      3,
      "PROVISION has tasks but no NEXT handler: add on.NEXT to say where a stack goes once the tasks are satisfied (or mark the state terminal)",
    ],
  ],
  "terraform-source.yml": [
    [
      "tasks.apply-infra.config.action",
      14,
      15,
      '"aply" is not one of apply, destroy (did you mean "apply"?)',
    ],
    ["tasks.apply-infra.config.source", 15, 7, 'missing required key "key"'],
    ["tasks.apply-infra.config.source.bucket", 17, 17, "must be at least 3 characters long"],
    ["tasks.apply-more.config.source.type", 23, 15, '"gcs" is not a source type: use s3 or local'],
  ],
  "terraform-variables.yml": [
    ["tasks.apply-infra.config.variables.tags", 18, 9, "expected a string, number or boolean, got a mapping"],
    [
      "tasks.apply-infra.config.variables.1bad",
      19,
      9,
      '"1bad" is not a valid variable name: use letters, digits, underscores and dashes, starting with a letter (at most 128 characters), because it becomes a Terraform variable name',
    ],
  ],
  "undeclared-event-handler.yml": [
    [
      "states.RUN.on.FREEZ",
      9,
      7,
      '"FREEZ" is not an event of this machine (events: LAUNCH, FREEZE, DESTROY); did you mean "FREEZE"?',
    ],
  ],
  "undefined-task.yml": [
    [
      "states.PROVISION.tasks[1]",
      10,
      9,
      'task "aply-infra" is not defined under tasks (tasks: apply-infra); did you mean "apply-infra"?',
    ],
  ],
  "unknown-config-key.yml": [
    ["tasks.apply-infra.config", 13, 5, 'missing required key "action"'],
    ["tasks.apply-infra.config.acton", 14, 7, 'unknown key "acton" (did you mean "action"?)'],
  ],
  "unknown-state-key.yml": [["states.DONE.task", 9, 5, 'unknown key "task" (did you mean "tasks"?)']],
  "wrong-types.yml": [
    ["events", 2, 9, 'expected a list, got the string "LAUNCH"'],
    [
      "states",
      3,
      1,
      'no state is terminal: mark at least one state "terminal: true" so that stacks can finish',
    ],
    ["states.INIT.terminal", 5, 15, 'expected true or false, got the string "yes"'],
    ["states.INIT.tasks", 6, 12, 'expected a list, got the string "provision"'],
    ["states.INIT.on.LAUNCH", 8, 7, "expected a list, got a mapping"],
  ],
  "wrong-version.yml": [["version", 1, 10, "unsupported spec version 2: this engine reads version 1"]],
  "yaml-bad-indent.yml": [["", 9, 1, "YAML syntax error: Sequence item without - indicator"]],
  "yaml-syntax.yml": [
    [
      "",
      3,
      1,
      "YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ],
  ],
};

// Valid specs whose only diagnostics are warnings.
const WARNINGS: Record<string, Expected[]> = {
  "terminal-next-and-init-tasks.yml": [
    [
      "states.INIT.tasks",
      5,
      5,
      "a new stack is created in INIT without dispatching INIT's tasks; they run only when a stack advances back into INIT",
    ],
    [
      "states.TEARDOWN.on.NEXT",
      13,
      7,
      "NEXT never fires in a terminal state: the stack is removed once TEARDOWN's tasks are satisfied",
    ],
  ],
  "unreachable-and-stuck.yml": [
    ["events[2]", 2, 25, 'event "UNUSED" is declared but no state handles it'],
    [
      "states.RUN",
      7,
      3,
      "RUN can never be left: no handler advances to another state, so a stack that enters it stays there",
    ],
    [
      "states.RUN.on.NEXT",
      10,
      7,
      "NEXT never fires here: RUN has no tasks, and NEXT fires only when every task of a state is satisfied",
    ],
    ["states.ORPHAN", 11, 3, "ORPHAN is unreachable: no chain of handlers from INIT advances to it"],
    ["states.DONE", 14, 3, "DONE is unreachable: no chain of handlers from INIT advances to it"],
    [
      "states.DONE.on",
      16,
      5,
      "DONE is terminal and has no tasks, so a stack entering it is removed at once and these handlers never run",
    ],
    ["tasks.spare", 19, 3, 'task "spare" is not used by any state'],
  ],
};

const diagnosticsOf = (dir: string, name: string) =>
  parseSpec(fixture(dir, name), { name: name.replace(/\.yml$/, "") }).diagnostics.map(
    (d) => [d.path, d.line, d.column, d.message] as Expected,
  );

describe("invalid specs", () => {
  it("has a table entry for every fixture (and at least 20 of them)", () => {
    expect(Object.keys(INVALID).sort()).toEqual(list("invalid").sort());
    expect(list("invalid").length).toBeGreaterThanOrEqual(20);
  });

  for (const [name, expected] of Object.entries(INVALID)) {
    it(`${name}: exact diagnostics`, () => {
      const result = parseSpec(fixture("invalid", name), { name: "m", file: `specs/${name}` });
      expect(result.machine).toBeNull();
      expect(result.diagnostics.every((d) => d.severity === "error" && d.file === `specs/${name}`)).toBe(
        true,
      );
      expect(diagnosticsOf("invalid", name)).toEqual(expected);
    });
  }
});

describe("valid specs", () => {
  for (const name of list("valid")) {
    it(`${name} compiles without diagnostics`, () => {
      const result = parseSpec(fixture("valid", name), { name: "m" });
      expect(result.diagnostics).toEqual([]);
      expect(result.machine).not.toBeNull();
    });
  }

  for (const [name, expected] of Object.entries(WARNINGS)) {
    it(`${name}: compiles with exact warnings`, () => {
      const result = parseSpec(fixture("warnings", name), { name: "m" });
      expect(result.machine).not.toBeNull();
      expect(result.diagnostics.every((d) => d.severity === "warning")).toBe(true);
      expect(diagnosticsOf("warnings", name)).toEqual(expected);
    });
  }

  it("resolves merge keys: a list of sources, explicit keys winning over merged ones", () => {
    const { machine } = parseSpec(fixture("valid", "anchors-and-merges.yml"), { name: "m" });
    const run = machine!.states.get("RUN")!;
    expect(Object.keys(run.on!).sort()).toEqual(["DESTROY", "RESTART", "TOUCH"]);
    expect(run.on!.RESTART).toEqual([{ action: "advance", state: "RUN" }]);
    expect(machine!.tasks.get("notify")!.executor).toBe("lambda");
    expect(machine!.spec["x-destroy"]).toBeDefined();
  });

  it("compiles the examples", () => {
    for (const name of ["qa-env.yml", "qa-env-terraform.yml"]) {
      const text = readFileSync(new URL(`../../../examples/specs/${name}`, import.meta.url), "utf8");
      const result = parseSpec(text, { name: name.replace(".yml", "") });
      expect(result.diagnostics).toEqual([]);
      expect(result.machine?.name).toBe(name.replace(".yml", ""));
    }
  });

  it("indexes the machine", () => {
    const { machine } = parseSpec(fixture("valid", "anchors-and-merges.yml"), { name: "m", file: "m.yml" });
    expect(machine!.name).toBe("m");
    expect(machine!.file).toBe("m.yml");
    expect([...machine!.events]).toEqual(["LAUNCH", "DESTROY", "TOUCH", "RESTART"]);
    expect([...machine!.states.keys()]).toEqual(["INIT", "RUN", "TEARDOWN"]);
    expect([...machine!.terminals]).toEqual(["TEARDOWN"]);
    expect([...machine!.tasks.keys()]).toEqual(["destroy-infra", "notify"]);
  });
});

describe("diagnostic helpers", () => {
  it("formats a diagnostic for editors and CI logs", () => {
    const [d] = parseSpec(fixture("invalid", "wrong-version.yml"), {
      name: "m",
      file: "specs/m.yml",
    }).diagnostics;
    expect(formatDiagnostic(d!)).toBe(
      "specs/m.yml:1:10: error: version: unsupported spec version 2: this engine reads version 1",
    );
  });

  it("parseSpecOrThrow throws a SpecError carrying every diagnostic", () => {
    expect.assertions(3);
    try {
      parseSpecOrThrow(fixture("invalid", "terraform-source.yml"), { name: "m" });
    } catch (error) {
      expect(error).toBeInstanceOf(SpecError);
      expect((error as SpecError).code).toBe("INVALID_SPEC");
      expect((error as SpecError).diagnostics).toHaveLength(4);
    }
  });

  it("refuses alias bombs instead of expanding them", () => {
    const bomb = [
      "version: 1",
      "x-a: &a [x, x, x, x, x, x, x, x, x, x]",
      "x-b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "x-c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "x-d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "x-e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
      "events: []",
      "states: { INIT: { terminal: true } }",
    ].join("\n");
    const result = parseSpec(bomb, { name: "m" });
    expect(result.machine).toBeNull();
    expect(result.diagnostics[0]!.message).toMatch(/^the YAML could not be read: /);
  });

  it("keys with dots are shown in brackets", () => {
    const text =
      "version: 1\nevents: []\nstates: { INIT: { terminal: true } }\ntasks:\n  my.task: { executor: lambda, config: {} }\n";
    expect(parseSpec(text, { name: "m" }).diagnostics).toEqual([
      {
        severity: "error",
        path: 'tasks["my.task"].config',
        line: 5,
        column: 32,
        message: 'missing required key "name"',
      },
    ]);
  });
});

describe("robustness", () => {
  const fragments = fc.constantFrom(
    "version: 1\n",
    "events: [A, B]\n",
    "states:\n",
    "  INIT:\n",
    "    on:\n",
    "      A: [{ action: advance, state: B }]\n",
    "  B: { terminal: true }\n",
    "tasks:\n",
    "  t: { executor: lambda, config: { name: t } }\n",
    "    tasks: [t]\n",
    "x-a: &a\n",
    "  <<: *a\n",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "&x ",
    "*x",
    "!!str ",
    "~",
    "'",
    '"',
    "\t",
    "\n",
    "#",
    "---\n",
  );
  it("never throws, and returns a machine exactly when there is no error", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fragments, fc.string({ maxLength: 8 })), { maxLength: 30 }), (parts) => {
        const result = parseSpec(parts.join(""), { name: "m" });
        const errors = result.diagnostics.filter((d) => d.severity === "error");
        expect(result.machine === null).toBe(errors.length > 0);
        for (const d of result.diagnostics) {
          expect(d.line).toBeGreaterThanOrEqual(1);
          expect(d.column).toBeGreaterThanOrEqual(1);
          expect(d.message).not.toMatch(/must match|must NOT|must have|must be equal/);
        }
      }),
      { numRuns: 500 },
    );
  });
});
