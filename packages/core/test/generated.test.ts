import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const validators = readFileSync(new URL("../src/generated/validators.ts", import.meta.url), "utf8");

describe("generated validators", () => {
  it("are standalone ESM: no require() of ajv's runtime", () => {
    expect(validators).not.toMatch(/\brequire\(/);
    expect(validators).toMatch(/^export const validateMachineSpec = /m);
  });

  it("do not compile schemas at runtime", () => {
    expect(validators).not.toMatch(/new Function|\beval\(/);
  });
});
