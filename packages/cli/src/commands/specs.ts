import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { formatDiagnostic, parseSpec } from "@stackseam/core";
import { folderPrefix, machineNameOf } from "@stackseam/state-manager";
import { parseCommandArgs } from "../registry.js";

const help = `Usage: stackseam specs push <dir> [--bucket B] [--prefix P] [--dry-run]

Validates every .yml/.yaml spec directly inside <dir>, then uploads them to S3 as <prefix><file>.
If any spec has an error, nothing is uploaded. Problems print as file:line:column: severity: message.
Running State Managers pick the new specs up within MACHINE_CACHE_TTL_SECONDS.

Options:
  --bucket B    the spec bucket (default: MACHINE_S3_BUCKET)
  --prefix P    the key prefix, treated as a folder (default: MACHINE_S3_KEY, else none)
  --dry-run     validate and list what would be uploaded
  -h, --help    show this help

Endpoints come from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL when set (path-style addressing).
Exit codes: 0 uploaded, 1 a spec is invalid or the upload failed, 2 usage error.
`;

interface Spec {
  file: string;
  name: string;
  text: string;
}

/** `stackseam specs push`. */
export async function run(args: string[]): Promise<number> {
  let values: { bucket?: string; prefix?: string; "dry-run"?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs<typeof values>("specs", args));
  } catch (err) {
    process.stderr.write(`stackseam specs: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const usage = (msg: string) => {
    process.stderr.write(`stackseam specs: ${msg}\n\n${help}`);
    return 2;
  };
  const [sub, dir, ...extra] = positionals;
  if (sub !== "push") return usage("expected push");
  if (!dir || extra.length > 0) return usage("push takes one folder");
  const bucket = values.bucket ?? process.env.MACHINE_S3_BUCKET;
  if (!bucket) return usage("no bucket: pass --bucket or set MACHINE_S3_BUCKET");
  const prefix = folderPrefix(values.prefix ?? process.env.MACHINE_S3_KEY);

  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    return usage(`${dir}: no such folder`);
  }
  const specs: Spec[] = [];
  let invalid = 0;
  const byName = new Map<string, string>();
  for (const fileName of names) {
    if (!/\.ya?ml$/.test(fileName)) continue;
    const file = join(dir, fileName);
    const name = machineNameOf(fileName);
    if (!name) {
      process.stderr.write(
        `${file}:1:1: error: "${fileName}" is not a usable machine name (letters, digits, . _ -)\n`,
      );
      invalid++;
      continue;
    }
    const other = byName.get(name);
    if (other) {
      process.stderr.write(`${file}:1:1: error: machine ${name} is also defined by ${other}\n`);
      invalid++;
      continue;
    }
    byName.set(name, file);
    const text = await readFile(file, "utf8");
    const { machine, diagnostics } = parseSpec(text, { name, file });
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    if (!machine) invalid++;
    specs.push({ file, name, text });
  }
  if (specs.length === 0 && invalid === 0) {
    process.stderr.write(`stackseam specs: ${dir} holds no .yml or .yaml files\n`);
    return 1;
  }
  if (invalid > 0) {
    process.stderr.write(`stackseam specs: ${invalid} invalid spec(s); nothing uploaded\n`);
    return 1;
  }
  if (values["dry-run"]) {
    for (const s of specs)
      process.stdout.write(`would upload ${s.file} → s3://${bucket}/${prefix}${keyName(s.file)}\n`);
    return 0;
  }

  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const s3 = new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {});
  try {
    for (const s of specs) {
      const key = `${prefix}${keyName(s.file)}`;
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: s.text,
          ContentType: "application/yaml; charset=utf-8",
        }),
      );
      process.stdout.write(`uploaded ${s.file} → s3://${bucket}/${key}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(
      `stackseam specs: upload to s3://${bucket}/${prefix} failed: ${(err as Error).message}\n`,
    );
    return 1;
  } finally {
    s3.destroy();
  }
}

function keyName(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1);
}
