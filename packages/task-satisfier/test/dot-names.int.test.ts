// Issue 12 item 7: names that merely start with ".." (`..hidden/x.tf`, `a/..b`) are ordinary names;
// only a real ".." path segment climbs out of the run directory and is refused.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { fetchScripts, safeDestination } from "../src/terraform-source.js";

describe("safeDestination", () => {
  it("keeps names that start with dots and refuses only a .. segment", () => {
    expect(safeDestination("/tmp/w", "..hidden/x.tf")).toBe("/tmp/w/..hidden/x.tf");
    expect(safeDestination("/tmp/w", "a/..b")).toBe("/tmp/w/a/..b");
    expect(safeDestination("/tmp/w", "..b")).toBe("/tmp/w/..b");
    expect(safeDestination("/tmp/w", "...")).toBe("/tmp/w/...");
    expect(safeDestination("/tmp/w", "..")).toBeNull();
    expect(safeDestination("/tmp/w", "../x.tf")).toBeNull();
    expect(safeDestination("/tmp/w", "a/../../x.tf")).toBeNull();
  });
});

describe("copying a source whose names start with ..", () => {
  let aws: TestAws;
  let root: string;

  beforeAll(async () => {
    aws = await startTestAws({ bucket: "dot-names" });
    root = await mkdtemp(join(tmpdir(), "stackseam-dots-"));
  });
  afterAll(async () => {
    await aws?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("from S3, copies ..hidden/x.tf and a/..b like any other object", async () => {
    for (const key of ["infra/main.tf", "infra/..hidden/x.tf", "infra/a/..b"]) {
      await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: `# ${key}` }));
    }
    const dest = await mkdtemp(join(root, "run-"));
    expect(await fetchScripts({ type: "s3", bucket: aws.bucket, key: "infra/" }, dest, aws.s3)).toEqual({
      ok: true,
      files: 3,
    });
    expect(await readFile(join(dest, "..hidden", "x.tf"), "utf8")).toBe("# infra/..hidden/x.tf");
    expect(await readFile(join(dest, "a", "..b"), "utf8")).toBe("# infra/a/..b");
  });

  it("from a folder, follows a link into its own ..hidden folder (it does not leave the source)", async () => {
    const source = join(root, "module");
    await mkdir(join(source, "..hidden"), { recursive: true });
    await writeFile(join(source, "..hidden", "shared.tf"), "# shared");
    await symlink(join(source, "..hidden", "shared.tf"), join(source, "main.tf"));
    const dest = await mkdtemp(join(root, "run-"));
    expect(await fetchScripts({ type: "local", location: source }, dest, aws.s3)).toEqual({
      ok: true,
      files: 2,
    });
    expect(await readFile(join(dest, "main.tf"), "utf8")).toBe("# shared");
  });
});
