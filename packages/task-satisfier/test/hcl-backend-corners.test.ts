// Corners of reading a module's backend the way Terraform would (docs/task-satisfier.md, backends):
// syntax that only looks like a backend, JSON configuration files, and the line an error names.
import { declaredBackend } from "@stackseam/task-satisfier";
import { describe, expect, it } from "vitest";
import { isConfigFile } from "../src/hcl-backend.js";

const one = (text: string, name = "main.tf") => declaredBackend([{ name, text }]);

describe("native syntax", () => {
  it("does not mistake strings, templates, escapes or heredocs for blocks", () => {
    const text = [
      "locals {",
      '  a = "say \\"terraform { backend \\\\"s3\\\\" {} }\\""',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: HCL templates, not JavaScript ones
      '  b = "${var.x == "}" ? "{" : "y"}"',
      '  c = "$${not a template} %%{nor this}"',
      "  d = <<-EOT",
      '    terraform { backend "gcs" {} }',
      "    EOT",
      '  e = [for k, v in var.m : v if k == "x"]',
      "  f = { for k, v in var.m : k => v }",
      "}",
      'terraform { backend "s3" {} }',
    ].join("\n");
    expect(one(text)).toEqual({ kind: "backend", type: "s3", file: "main.tf", line: 11 });
  });

  it("reads `<<` that starts no heredoc as an operator", () => {
    expect(one('locals {\n  a = 1 << 2\n}\nterraform {\n  backend "s3" {}\n}\n')).toMatchObject({
      kind: "backend",
      line: 5,
    });
  });

  it("keeps counting lines across multi-line templates", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an HCL template, not a JavaScript one
    expect(one('locals {\n  a = "${\n    var.x\n  }"\n}\nterraform {\n  backend "s3" {}\n}')).toMatchObject({
      line: 7,
    });
  });

  it("ignores a terraform block with a label, a backend without one, and a labelled cloud block", () => {
    expect(
      one('terraform "x" {\n  backend "s3" {}\n}\nterraform {\n  backend {}\n  cloud "c" {}\n}\n'),
    ).toEqual({
      kind: "none",
    });
  });

  it.each([
    [
      'locals {\n  a = "${var.x\n',
      "main.tf:2: a template sequence (dollar or percent brace) is never closed",
    ],
    ['locals {\n  a = "abc', "main.tf:2: a quoted string is never closed"],
    ["/* never\nclosed", "main.tf:1: a /* comment */ is never closed"],
    ["locals {\n  a = <<EOT\nno end", "main.tf:2: the heredoc <<EOT is never closed"],
    ["locals {\n  a = 1\n", "main.tf:2: a block is never closed (missing })"],
    ["}\n", "main.tf:1: a } closes nothing"],
  ])("names the file and line of what cannot be read: %j", (text, message) => {
    expect(() => one(text)).toThrow(message);
  });

  it("a heredoc closed on the file's last line (no newline after it) is closed", () => {
    expect(one("a = <<EOT\nx\nEOT")).toEqual({ kind: "none" });
  });
});

describe("JSON syntax (.tf.json)", () => {
  it("finds a backend, or a cloud block, in terraform given as an object or a list", () => {
    expect(one('{"terraform": {"backend": {"s3": {}}}}', "main.tf.json")).toEqual({
      kind: "backend",
      type: "s3",
      file: "main.tf.json",
      line: 1,
    });
    expect(
      one('{"terraform": [{"required_version": "1"}, {"backend": [{"gcs": {}}]}]}', "main.tf.json"),
    ).toMatchObject({
      kind: "backend",
      type: "gcs",
    });
    expect(one('{"terraform": {"cloud": {"organization": "acme"}}}', "main.tf.json")).toMatchObject({
      kind: "cloud",
    });
  });

  it("finds nothing in shapes that declare nothing", () => {
    for (const text of ["[]", '{"terraform": 3}', '{"terraform": {"backend": [1, {}]}}', "{}"]) {
      expect(one(text, "main.tf.json")).toEqual({ kind: "none" });
    }
  });

  it("names the line of a JSON error without quoting the file", () => {
    expect(() => one('{\n  "terraform": {\n    "password": hunter2\n  }\n}', "main.tf.json")).toThrow(
      /^main\.tf\.json:3: not valid JSON/,
    );
    try {
      one('{\n  "password": hunter2\n}', "main.tf.json");
    } catch (err) {
      expect((err as Error).message).not.toContain("hunter2");
    }
  });
});

describe("which files are configuration", () => {
  it.each([
    ["main.tf", true],
    ["main.tofu", true],
    ["main.tf.json", true],
    ["main.tofu.json", true],
    [".main.tf", false],
    ["main.tf~", false],
    ["#main.tf#", false],
    ["main.tfvars", false],
  ])("%s: %s", (name, yes) => {
    expect(isConfigFile(name)).toBe(yes);
  });
});
