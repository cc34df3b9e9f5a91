import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../../../test/e2e/dev-harness.js";
import { hasProgram } from "./support/cli.js";

// The GitHub Actions workflow of examples/ci cannot run here; what it asks GitHub to do can be
// read. (The script it runs is exercised against dev by test/e2e/ci-pipeline.test.ts.)

interface Step {
  id?: string;
  name?: string;
  if?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}
interface Workflow {
  on: { pull_request: { types: string[] } };
  concurrency: { group: string; "cancel-in-progress": boolean };
  permissions: Record<string, string>;
  jobs: Record<string, { if: string; steps: Step[] }>;
}

/** A GitHub Actions expression as the workflow writes it: `${{ expr }}`. */
const gh = (expr: string) => `$\{{ ${expr} }}`;

const workflow = parse(readFileSync(join(ROOT, "examples/ci/github-actions.yml"), "utf8")) as Workflow;
const runs = (job: string) => workflow.jobs[job]?.steps.flatMap((s) => (s.run ? [s.run] : [])) ?? [];

describe("examples/ci/github-actions.yml", () => {
  it("runs on the pull request events the pipeline needs, one job per PR at a time", () => {
    expect(workflow.on.pull_request.types.sort()).toEqual(["closed", "opened", "reopened", "synchronize"]);
    expect(workflow.concurrency).toEqual({
      group: `preview-env-${gh("github.event.pull_request.number")}`,
      "cancel-in-progress": false,
    });
    expect(workflow.permissions).toMatchObject({ "pull-requests": "write", "id-token": "write" });
  });

  it("up: the script with the PR number and head SHA, then comments the URL it output", () => {
    expect(workflow.jobs.up?.if).toBe("github.event.action != 'closed'");
    expect(runs("up")).toContain(
      `ci/preview-env.sh up "${gh("github.event.pull_request.number")}" "${gh("github.event.pull_request.head.sha")}"`,
    );
    const steps = workflow.jobs.up?.steps ?? [];
    const preview = steps.find((s) => s.run?.startsWith("ci/preview-env.sh up"));
    expect(preview?.id).toBe("preview");
    const comment = steps.find((s) => s.env?.URL !== undefined);
    expect(comment?.env?.URL).toBe(gh("steps.preview.outputs.url"));
    expect(comment?.run).toMatch(/^gh pr comment .*ready: \$URL"\n$/);
  });

  it("down: the script on close", () => {
    expect(workflow.jobs.down?.if).toBe("github.event.action == 'closed'");
    expect(runs("down")).toContain(`ci/preview-env.sh down "${gh("github.event.pull_request.number")}"`);
  });

  it("every run step is valid bash, and the script passes shellcheck where it is installed", () => {
    for (const job of Object.keys(workflow.jobs))
      for (const script of runs(job)) execFileSync("bash", ["-n", "-c", script]);
    execFileSync("bash", ["-n", join(ROOT, "examples/ci/preview-env.sh")]);
    if (hasProgram("shellcheck")) execFileSync("shellcheck", [join(ROOT, "examples/ci/preview-env.sh")]);
  });
});
