import { declaredBackend, HclSyntaxError } from "@stackseam/task-satisfier";
import { describe, expect, it } from "vitest";

const one = (text: string, name = "main.tf") => declaredBackend([{ name, text }]);

describe("finding the backend a module declares", () => {
  it("finds a backend block, its type and where it is", () => {
    expect(
      one(
        'variable "x" {}\n\nterraform {\n  required_version = ">= 1.5"\n  backend "s3" {\n    bucket = "b"\n  }\n}\n',
      ),
    ).toEqual({
      kind: "backend",
      type: "s3",
      file: "main.tf",
      line: 5,
    });
  });

  it("reads one-line blocks and unquoted labels", () => {
    expect(one('terraform { backend "gcs" {} }')).toMatchObject({ kind: "backend", type: "gcs" });
    expect(one("terraform {\n  backend local {}\n}")).toMatchObject({ kind: "backend", type: "local" });
  });

  it("finds a cloud block (HCP Terraform)", () => {
    expect(one('terraform {\n  cloud {\n    organization = "acme"\n  }\n}')).toMatchObject({
      kind: "cloud",
      line: 2,
    });
  });

  it("is not fooled by comments", () => {
    const text = [
      '# terraform { backend "s3" {} }',
      '// terraform { backend "s3" {} }',
      "/* terraform {",
      '  backend "s3" {}',
      "} */",
      'terraform { # backend "s3" {}',
      '  required_version = ">= 1.5" // backend "s3" {}',
      "}",
    ].join("\n");
    expect(one(text)).toEqual({ kind: "none" });
  });

  it("is not fooled by strings, templates and heredocs that look like blocks", () => {
    const text = [
      'locals { a = "terraform { backend \\"s3\\" {} }" }',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: HCL template text, not a JS template
      'locals { b = "${ jsonencode({ backend = "s3" }) } }{" }',
      "locals {",
      "  c = <<-EOT",
      '    terraform { backend "s3" {} }',
      "  EOT",
      "}",
      'output "x" { value = "%{ if true }{%{ endif }" }',
    ].join("\n");
    expect(one(text)).toEqual({ kind: "none" });
  });

  it("only counts backend blocks directly in a top-level terraform block", () => {
    expect(one('module "m" {\n  source = "./m"\n  terraform {\n    backend "s3" {}\n  }\n}')).toEqual({
      kind: "none",
    });
    expect(one('resource "x" "y" {\n  backend "s3" {}\n}')).toEqual({ kind: "none" });
    expect(one('terraform {\n  backend = "s3"\n}')).toEqual({ kind: "none" });
  });

  it("reads JSON syntax", () => {
    expect(one('{"terraform": {"backend": {"s3": {"bucket": "b"}}}}', "backend.tf.json")).toMatchObject({
      kind: "backend",
      type: "s3",
    });
    expect(
      one('{"terraform": [{"required_version": ">= 1.5"}, {"backend": [{"azurerm": {}}]}]}', "x.tf.json"),
    ).toMatchObject({
      type: "azurerm",
    });
    expect(one('{"terraform": {"cloud": {}}}', "x.tf.json")).toMatchObject({ kind: "cloud" });
    expect(one('{"resource": {}}', "x.tf.json")).toEqual({ kind: "none" });
  });

  it("looks only at files Terraform reads, in any of them, override files included", () => {
    expect(
      declaredBackend([
        { name: "README.md", text: 'terraform { backend "s3" {} }' },
        { name: "main.tf", text: 'variable "a" {}' },
        { name: ".hidden.tf", text: 'terraform { backend "s3" {} }' },
        { name: "main.tf~", text: 'terraform { backend "s3" {} }' },
      ]),
    ).toEqual({ kind: "none" });
    expect(
      declaredBackend([
        { name: "main.tf", text: 'variable "a" {}' },
        { name: "backend_override.tf", text: 'terraform { backend "s3" {} }' },
      ]),
    ).toMatchObject({ kind: "backend", file: "backend_override.tf" });
    expect(declaredBackend([{ name: "main.tofu", text: 'terraform { backend "pg" {} }' }])).toMatchObject({
      type: "pg",
    });
  });

  it("says where a file cannot be read, instead of guessing", () => {
    expect(() => one('locals {\n  a = "never closed\n}')).toThrow(HclSyntaxError);
    expect(() => one('locals {\n  a = "never closed\n}')).toThrow(
      /^main\.tf:2: a quoted string is not closed/,
    );
    expect(() => one("/* open")).toThrow(/comment/);
    expect(() => one("locals {\n  a = <<EOT\nno end\n")).toThrow(/heredoc <<EOT is never closed/);
    expect(() => one("terraform {\n")).toThrow(/never closed/);
    expect(() => one("{bad json", "x.tf.json")).toThrow(/x\.tf\.json:1: not valid JSON/);
  });
});
