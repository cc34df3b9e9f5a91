import { describe, expect, it } from "vitest";
import { failureSummary, failureText, formatDiagnostic, printable } from "../src/index.js";

// What the Terraform executor reports when `apply` fails: its own first line, then Terraform's
// output tail, with deprecation warnings before the error (as Terraform prints them, boxed).
const TERRAFORM_FAILURE = [
  "terraform apply failed (exit code 1)",
  "--- last output ---",
  "╷",
  "│ Warning: Argument is deprecated",
  "│ ",
  '│   with aws_s3_bucket.site, on main.tf line 12, in resource "aws_s3_bucket" "site":',
  '│   12:   acl = "private"',
  "│ ",
  "│ Use the aws_s3_bucket_acl resource instead",
  "╵",
  "╷",
  "│ Error: Invalid reference",
  "│ ",
  "│   on main.tf line 3:",
  "│    3:   name = foo.bar",
  "╵",
].join("\n");

describe("failureSummary", () => {
  it("shows the step that failed and Terraform's first Error: line, not its warnings", () => {
    expect(failureSummary(TERRAFORM_FAILURE)).toBe(
      "terraform apply failed (exit code 1): Error: Invalid reference",
    );
  });

  it("keeps a first line that already holds the error (a Lambda function's message)", () => {
    const lambda =
      "Lambda function provision-env failed: Error: provisioning f2 failed\nError: provisioning f2 failed\n    at handler (file:///x.mjs:9:11)";
    expect(failureSummary(lambda)).toBe(
      "Lambda function provision-env failed: Error: provisioning f2 failed",
    );
  });

  it("finds TypeError:, ERROR: and error: lines too", () => {
    expect(failureSummary("step failed\nnoise\nTypeError: x is not a function")).toBe(
      "step failed: TypeError: x is not a function",
    );
    expect(failureSummary('psql failed\nERROR:  relation "t" does not exist')).toBe(
      'psql failed: ERROR:  relation "t" does not exist',
    );
    expect(failureSummary("git failed\nerror: pathspec 'x' did not match")).toBe(
      "git failed: error: pathspec 'x' did not match",
    );
  });

  it("falls back to the first non-empty line, and does not take 'stderr:' for an error", () => {
    expect(failureSummary("\n\n  no scripts found at s3://b/k\nmore")).toBe("no scripts found at s3://b/k");
    expect(failureSummary("it failed\nstderr: something")).toBe("it failed");
  });

  it("strips colour codes and shows control and bidi characters", () => {
    expect(failureSummary("\u001b[31mError:\u001b[0m bad\u0000 \u202eevil")).toBe("Error: bad␀ ⟨U+202E⟩evil");
  });

  it("cuts a very long line", () => {
    const s = failureSummary(`Error: ${"x".repeat(1000)}`, { max: 50 });
    expect([...s]).toHaveLength(50);
    expect(s.endsWith("…")).toBe(true);
  });
});

describe("failureText", () => {
  it("is the summary by default and the whole printable text with full", () => {
    expect(failureText(TERRAFORM_FAILURE)).toBe(failureSummary(TERRAFORM_FAILURE));
    const full = failureText(`${TERRAFORM_FAILURE}\n\u001b[1mbold\u001b[0m\n`, { full: true });
    expect(full.split("\n")).toHaveLength(17);
    expect(full).toContain("│ Warning: Argument is deprecated");
    expect(full.endsWith("bold")).toBe(true);
  });
});

describe("printable", () => {
  it("puts a multi-line text on one line unless asked", () => {
    expect(printable("a\nb")).toBe("a␊b");
    expect(printable("a\nb", { multiline: true })).toBe("a\nb");
  });

  it("names every bidi control (Trojan Source) and zero-width character", () => {
    const bidi = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"];
    expect(printable(bidi.join(""))).toBe(
      "⟨U+202A⟩⟨U+202B⟩⟨U+202C⟩⟨U+202D⟩⟨U+202E⟩⟨U+2066⟩⟨U+2067⟩⟨U+2068⟩⟨U+2069⟩",
    );
    expect(printable("a\u200bb\u200fc\ufeffd")).toBe("a⟨U+200B⟩b⟨U+200F⟩c⟨U+FEFF⟩d");
  });
});

describe("formatDiagnostic", () => {
  it("never prints a raw NUL or right-to-left override", () => {
    const line = formatDiagnostic({
      severity: "error",
      path: "states.A\u202eB",
      line: 3,
      column: 5,
      message: 'unknown key "x\u0000y"',
      file: "specs/m.yml",
    });
    expect(line).toBe('specs/m.yml:3:5: error: states.A⟨U+202E⟩B: unknown key "x␀y"');
  });
});

describe("failureSummary of a description with nothing in it", () => {
  it("is empty: there is no line to show", () => {
    expect(failureSummary("")).toBe("");
    expect(failureSummary("\n  \n\t\n")).toBe("");
  });
});
