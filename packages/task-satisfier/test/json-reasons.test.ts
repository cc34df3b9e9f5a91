// Issue 12 item 7: JSON.parse's messages quote the text around the error. Where that text can hold
// a secret (Terraform outputs marked sensitive, a module's .tf.json), the reason says where and
// what instead.
import { describe, expect, it } from "vitest";
import { declaredBackend } from "../src/hcl-backend.js";
import { terraformOutputs } from "../src/outputs.js";

describe("malformed JSON reasons quote nothing", () => {
  it("terraform output -json that is not JSON", () => {
    const json = '{"db_password": {"sensitive": true, "value": hunter2-s3cr3t}}';
    expect(terraformOutputs(json)).toEqual({
      ok: false,
      description:
        "terraform output -json printed something that is not JSON (malformed JSON at position 45: unexpected token)",
    });
  });

  it("a .tf.json file that is not JSON, with the line of the error", () => {
    const text = '{\n  "variable": {\n    "token": {"default": hunter2-s3cr3t}\n  }\n}';
    expect(() => declaredBackend([{ name: "vars.tf.json", text }])).toThrow(
      /^vars\.tf\.json:3: not valid JSON: unexpected token$/,
    );
  });
});
