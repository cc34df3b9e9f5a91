// Copying a local Terraform source into the run's folder (docs/task-satisfier.md, sources): another
// run's .terraform folder is left behind, links inside the source are followed, what is neither a
// file nor a folder is skipped, and a folder that leaves nothing to run is refused.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fetchScripts } from "../src/terraform-source.js";

let root: string;
let source: string;
let dest: string;
const s3 = new S3Client({ region: "us-east-1" });
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "stackseam-local-source-"));
  source = join(root, "src");
  dest = join(root, "dest");
  await mkdir(source);
  await mkdir(dest);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const local = () => fetchScripts({ type: "local", location: source }, dest, s3);

describe("a local source", () => {
  it("leaves another run's .terraform folder behind and follows links that stay inside", async () => {
    await writeFile(join(source, "main.tf"), 'variable "x" {}\n');
    await mkdir(join(source, ".terraform", "providers"), { recursive: true });
    await writeFile(join(source, ".terraform", "terraform.tfstate"), "{}");
    await mkdir(join(source, "modules", "net"), { recursive: true });
    await writeFile(join(source, "modules", "net", "main.tf"), "# net\n");
    await symlink(join(source, "main.tf"), join(source, "linked.tf"));
    // A named pipe: neither a file nor a folder, and reading it would block.
    execFileSync("mkfifo", [join(source, "pipe")]);

    expect(await local()).toEqual({ ok: true, files: 3 });
    expect((await readdir(dest)).sort()).toEqual(["linked.tf", "main.tf", "modules"]);
    expect(await readFile(join(dest, "linked.tf"), "utf8")).toBe('variable "x" {}\n');
  });

  it("refuses a folder that leaves no files to run", async () => {
    await mkdir(join(source, ".terraform"));
    await writeFile(join(source, ".terraform", "environment"), "default");
    expect(await local()).toEqual({
      ok: false,
      description: `local Terraform source ${source} holds no files`,
    });
  });

  it("says a source it cannot open cannot be read, with the reason", async () => {
    expect(await fetchScripts({ type: "local", location: join(root, "missing") }, dest, s3)).toEqual({
      ok: false,
      description: `local Terraform source ${join(root, "missing")} cannot be read (ENOENT)`,
    });
  });
});
