import { copyFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { formatDiagnostic, type Machine } from "@stackseam/core";
import { folderPrefix } from "@stackseam/state-manager";
import { type DevInstance, findDevInstance } from "../connection.js";
import { parseCommandArgs } from "../registry.js";
import type { SpecPlace } from "../spec-access.js";
import { assessMachines } from "../versions/assess.js";
import { migrationAdvice, renderAssessment } from "../versions/render.js";
import { readSpecFiles, SpecPathError } from "../versions/spec-files.js";
import type { SpecsValues } from "../versions/specs-values.js";

const help = `Usage:
  stackseam specs push <dir> [--bucket B] [--prefix P] [--force] [--dry-run]
  stackseam specs diff <file|dir> [--bucket B] [--prefix P] [--specs DIR]
  stackseam specs versions <machine> [--specs DIR] [--local] [--json]
  stackseam specs prune <machine> [--min-age D] [--specs DIR] [--dry-run]

push      Validates every .yml/.yaml spec directly inside <dir>, shows what changes against the
          deployed version of each machine and what that means for its live stacks, then uploads
          them to S3 as <prefix><file> (or, with no bucket and a running \`stackseam dev\`, copies
          them into dev's specs folder). If any spec has an error, nothing is uploaded. A push that
          would strand live stacks under \`upgrade: on-state-entry\` (or strand stacks that have no
          version yet) is refused unless --force.
diff      The same report as push, uploading nothing.
versions  The versions of a machine stacks have run: first use, live stacks, which is current.
prune     Deletes stored versions no live stack runs (never the current or newest one, nor one
          replaced less than --min-age ago, which a State Manager may still be using).

Running stacks keep the version they started with: a push changes new stacks, and running ones
only when they upgrade (\`stackseam stacks upgrade\`, or \`upgrade: on-state-entry\`).

Options:
  --bucket B          the spec bucket (default: MACHINE_S3_BUCKET)
  --prefix P          the key prefix, treated as a folder (default: MACHINE_S3_KEY, else none)
  --specs DIR         read the current specs from DIR (default: the running dev's specs, else
                      MACHINE_SPEC_DIR, else MACHINE_S3_BUCKET/MACHINE_S3_KEY)
  --database-url URL  where the live stacks are (default: DATABASE_URL, else a running dev)
  --force             push even though live stacks would be stranded
  --min-age D         prune: keep versions replaced less than D ago (default 1h; e.g. 90s, 20m, 3d)
  --dry-run           push: validate and report, upload nothing; prune: list, delete nothing
  --local             print times in local time with its offset (default: ISO 8601 in UTC)
  --json              versions: print JSON
  -h, --help          show this help

Endpoints come from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL when set (path-style addressing).
Exit codes: 0 done, 1 a spec is invalid, the push was refused, or a read or upload failed,
2 usage error.
`;

/** `stackseam specs push|diff|versions|prune`. */
export async function run(args: string[]): Promise<number> {
  let values: SpecsValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs<SpecsValues>("specs", args));
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
  const [sub, target, ...extra] = positionals;
  if (sub !== "push" && sub !== "diff" && sub !== "versions" && sub !== "prune")
    return usage("expected push, diff, versions or prune");
  // Options that only some subcommands read: anywhere else they are a mistake worth saying.
  const onlyFor: Partial<Record<keyof SpecsValues, readonly string[]>> = {
    force: ["push"],
    "min-age": ["prune"],
    json: ["versions"],
    local: ["versions", "prune"],
    "dry-run": ["push", "prune"],
    specs: ["diff", "versions", "prune"],
  };
  for (const [name, subs] of Object.entries(onlyFor) as [keyof SpecsValues, readonly string[]][]) {
    if (values[name] !== undefined && !subs.includes(sub))
      return usage(`--${name} is for ${subs.map((c) => `\`specs ${c}\``).join(", ")}`);
  }
  switch (sub) {
    case "push":
      if (!target || extra.length > 0) return usage("push takes one folder");
      return push(values, target, usage);
    case "diff":
      if (!target || extra.length > 0) return usage("diff takes one spec file or folder");
      return (await import("../versions/diff-command.js")).diff(values, target, usage);
    case "versions":
    case "prune": {
      if (!target || extra.length > 0) return usage(`${sub} takes one machine name`);
      const mod = await import("../versions/versions-command.js");
      return sub === "versions" ? mod.versions(values, target, usage) : mod.prune(values, target, usage);
    }
  }
}

/** Where a push goes: S3, or the running dev's specs folder. */
type Target = { kind: "s3"; bucket: string; prefix: string } | { kind: "dev"; dev: DevInstance };

async function push(values: SpecsValues, dir: string, usage: (msg: string) => number): Promise<number> {
  const bucket = values.bucket ?? process.env.MACHINE_S3_BUCKET;
  const dev = bucket ? null : findDevInstance();
  let target: Target;
  if (bucket)
    target = { kind: "s3", bucket, prefix: folderPrefix(values.prefix ?? process.env.MACHINE_S3_KEY) };
  else if (dev) target = { kind: "dev", dev };
  else return usage("no bucket: pass --bucket, set MACHINE_S3_BUCKET, or start `stackseam dev`");

  let read: Awaited<ReturnType<typeof readSpecFiles>>;
  try {
    read = await readSpecFiles(dir);
  } catch (err) {
    if (err instanceof SpecPathError) return usage(err.message);
    throw err;
  }
  for (const line of read.problems) process.stderr.write(`${line}\n`);
  for (const s of read.specs) for (const d of s.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  const invalid = read.problems.length + read.specs.filter((s) => !s.machine).length;
  if (read.specs.length === 0 && invalid === 0) {
    process.stderr.write(`stackseam specs: ${dir} holds no .yml or .yaml files\n`);
    return 1;
  }
  if (invalid > 0) {
    process.stderr.write(`stackseam specs: ${invalid} invalid spec(s); nothing uploaded\n`);
    return 1;
  }

  const place: SpecPlace =
    target.kind === "s3"
      ? { kind: "s3", bucket: target.bucket, prefix: target.prefix }
      : { kind: "dir", dir: target.dev.specsDir, origin: "dev" };
  // The live stacks are where the target's State Managers keep them: dev's own database for dev.
  const databaseUrl =
    values["database-url"] ??
    (target.kind === "dev" ? target.dev.databaseUrl : process.env.DATABASE_URL?.trim() || undefined);
  const assessments = await assessMachines(
    read.specs.map((s) => s.machine as Machine),
    { place, databaseUrl },
  );
  for (const a of assessments) process.stdout.write(`${renderAssessment(a)}\n`);

  const stranding = assessments.filter((a) => a.impact?.mustForce);
  if (stranding.length > 0 && !values.force) {
    for (const a of stranding) {
      const impact = a.impact!;
      const why = [
        impact.autoUpgrade && impact.stranded > 0
          ? `${impact.stranded} live stack(s) could not move to version ${a.next.version}, which sets upgrade: on-state-entry`
          : "",
        impact.unpinnedStranded > 0
          ? `${impact.unpinnedStranded} stack(s) without a version would run version ${a.next.version} from their next event and could not`
          : "",
      ].filter(Boolean);
      process.stderr.write(`stackseam specs: refused: machine ${a.name}: ${why.join("; ")}\n`);
    }
    process.stderr.write(`${migrationAdvice(stranding[0]!.impact!)}\nnothing uploaded\n`);
    return 1;
  }
  if (stranding.length > 0)
    process.stderr.write(
      `stackseam specs: --force: pushing although live stacks of ${stranding.map((a) => a.name).join(", ")} would be stranded\n`,
    );

  const destination = (file: string) =>
    target.kind === "s3"
      ? `s3://${target.bucket}/${target.prefix}${basename(file)}`
      : join(target.dev.specsDir, basename(file));
  if (values["dry-run"]) {
    for (const s of read.specs) process.stdout.write(`would upload ${s.file} → ${destination(s.file)}\n`);
    return 0;
  }
  return target.kind === "s3"
    ? uploadToS3(read.specs, target)
    : copyToDev(read.specs, target.dev, destination);
}

async function uploadToS3(
  specs: readonly { file: string; text: string }[],
  target: { bucket: string; prefix: string },
): Promise<number> {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const s3 = new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {});
  try {
    for (const s of specs) {
      const key = `${target.prefix}${basename(s.file)}`;
      await s3.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: key,
          Body: s.text,
          ContentType: "application/yaml; charset=utf-8",
        }),
      );
      process.stdout.write(`uploaded ${s.file} → s3://${target.bucket}/${key}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(
      `stackseam specs: upload to s3://${target.bucket}/${target.prefix} failed: ${(err as Error).message}\n`,
    );
    return 1;
  } finally {
    s3.destroy();
  }
}

/** Dev reloads its specs folder on every change: a copy there is a push. */
async function copyToDev(
  specs: readonly { file: string }[],
  dev: DevInstance,
  destination: (file: string) => string,
): Promise<number> {
  try {
    for (const s of specs) {
      const to = destination(s.file);
      if (resolve(s.file) === resolve(to)) {
        process.stdout.write(`${s.file} is dev's own file: nothing to copy\n`);
        continue;
      }
      await copyFile(s.file, to);
      process.stdout.write(`copied ${s.file} → ${to} (stackseam dev, pid ${dev.pid})\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`stackseam specs: copy into ${dev.specsDir} failed: ${(err as Error).message}\n`);
    return 1;
  }
}
