import { createWriteStream } from "node:fs";
import { copyFile, mkdir, readdir, readlink, realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { TerraformSource } from "./config-types.js";
import { isTransientAwsError, TransientError } from "./errors.js";

export type FetchResult = { ok: true; files: number } | { ok: false; description: string };

/**
 * Whether a path relative to a root climbs out of it: its first segment is `..` (a name that only
 * starts with dots, such as `..hidden`, stays inside) or it is absolute (another drive on Windows).
 */
function leavesRoot(rel: string): boolean {
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

const DOWNLOAD_CONCURRENCY = 16;

/**
 * Where an object's relative path lands inside `dest`, or null when it would land outside
 * (`..` segments, absolute paths, NUL bytes): such keys are refused, never "cleaned up".
 */
export function safeDestination(dest: string, relativePath: string): string | null {
  if (relativePath.includes("\0")) return null;
  const segments = relativePath.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0 || segments.includes("..")) return null;
  const target = resolve(dest, ...segments);
  const rel = relative(dest, target);
  if (rel === "" || leavesRoot(rel)) return null;
  return target;
}

/**
 * The object's path relative to the source: with a prefix ending in `/`, everything under it; otherwise
 * the object named exactly by the key (a single file) or objects under `key/` (so `infra/qa` does not
 * pick up `infra/qa-old/…`). Returns null for objects that are not part of the source.
 */
export function relativeKey(prefix: string, key: string): string | null {
  if (key.endsWith("/")) return null; // a "folder" marker, not a file
  const rest = key.slice(prefix.length);
  if (prefix.endsWith("/")) return rest;
  if (rest === "") return basename(key);
  return rest.startsWith("/") ? rest.slice(1) : null;
}

async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}

function s3Failure(err: unknown, what: string): FetchResult {
  if (isTransientAwsError(err)) throw new TransientError(`S3 ${what} failed transiently`, { cause: err });
  const name = err instanceof Error ? err.name : "Error";
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, description: `copying the Terraform scripts failed: S3 ${what}: ${name}: ${message}` };
}

async function fetchFromS3(
  s3: S3Client,
  source: { bucket: string; key: string },
  dest: string,
  signal?: AbortSignal,
): Promise<FetchResult> {
  const where = `s3://${source.bucket}/${source.key}`;
  const objects: { key: string; target: string }[] = [];
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await s3.send(
        new ListObjectsV2Command({ Bucket: source.bucket, Prefix: source.key, ContinuationToken: token }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (err) {
      return s3Failure(err, `ListObjectsV2 on ${where}`);
    }
    for (const obj of page.Contents ?? []) {
      if (!obj.Key) continue;
      const rel = relativeKey(source.key, obj.Key);
      if (rel === null) continue;
      const target = safeDestination(dest, rel);
      if (target === null) {
        return {
          ok: false,
          description: `refused S3 object key ${JSON.stringify(obj.Key)} under ${where}: its path would land outside the working directory; nothing was run`,
        };
      }
      objects.push({ key: obj.Key, target });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (objects.length === 0) {
    return { ok: false, description: `no Terraform scripts found at ${where} (no objects under that key)` };
  }
  let failure: FetchResult | undefined;
  await pool(objects, DOWNLOAD_CONCURRENCY, async ({ key, target }) => {
    if (failure) return;
    try {
      const res = await s3.send(
        new GetObjectCommand({ Bucket: source.bucket, Key: key }),
        signal ? { abortSignal: signal } : {},
      );
      await mkdir(dirname(target), { recursive: true });
      const body = res.Body;
      if (!body) throw new Error("empty response body");
      await pipeline(body as Readable, createWriteStream(target, { flags: "wx" }));
    } catch (err) {
      failure ??= s3Failure(err, `GetObject s3://${source.bucket}/${key}`);
    }
  });
  return failure ?? { ok: true, files: objects.length };
}

const inside = (root: string, path: string) => !leavesRoot(relative(root, path));

class SourceRefused extends Error {}

/**
 * Copies a folder tree, following symbolic links whose targets stay inside the source (their
 * contents are copied, since the link itself would point elsewhere once copied) and refusing links
 * that leave it, dangle or loop. `.terraform` folders are left out. Returns the number of files.
 */
async function copyTree(
  realRoot: string,
  from: string,
  to: string,
  shown: string,
  chain: Set<string>,
): Promise<number> {
  let files = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const path = join(from, entry.name);
    const target = join(to, entry.name);
    const name = shown === "" ? entry.name : `${shown}/${entry.name}`;
    let real = path;
    let kind: "file" | "dir" | "other" = entry.isFile() ? "file" : entry.isDirectory() ? "dir" : "other";
    if (entry.isSymbolicLink()) {
      try {
        real = await realpath(path);
      } catch {
        throw new SourceRefused(
          `${name} is a symbolic link to nothing (${await readlink(path).catch(() => "?")})`,
        );
      }
      if (!inside(realRoot, real)) {
        throw new SourceRefused(`${name} is a symbolic link to ${real}, outside the source folder`);
      }
      const info = await stat(real);
      kind = info.isFile() ? "file" : info.isDirectory() ? "dir" : "other";
    }
    if (kind === "file") {
      await copyFile(real, target);
      files++;
    } else if (kind === "dir") {
      // A local .terraform folder holds another run's providers and state pointers; the run makes its own.
      if (entry.name === ".terraform") continue;
      const realDir = real === path ? await realpath(path) : real;
      if (chain.has(realDir))
        throw new SourceRefused(`${name} is a symbolic link into its own parent folder (a loop)`);
      await mkdir(target, { recursive: true });
      files += await copyTree(realRoot, path, target, name, new Set([...chain, realDir]));
    }
  }
  return files;
}

/** Why a local source could not be read, in the words a run and a dry run both use. */
export function unreadableLocalSource(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? "error";
  return `local Terraform source ${path} cannot be read (${code})`;
}

async function fetchFromLocal(location: string, dest: string): Promise<FetchResult> {
  const from = resolve(location);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(from);
  } catch (err) {
    return { ok: false, description: unreadableLocalSource(from, err) };
  }
  if (info.isFile()) {
    await copyFile(from, join(dest, basename(from)));
    return { ok: true, files: 1 };
  }
  const realRoot = await realpath(from);
  let files: number;
  try {
    files = await copyTree(realRoot, from, dest, "", new Set([realRoot]));
  } catch (err) {
    if (!(err instanceof SourceRefused)) throw err;
    return {
      ok: false,
      description: `refused local Terraform source ${from}: ${err.message}; copy the files into the folder or point the link inside it; nothing was run`,
    };
  }
  if (files === 0) return { ok: false, description: `local Terraform source ${from} holds no files` };
  return { ok: true, files };
}

/** Copies the task's Terraform scripts into the (empty) folder `dest`. */
export async function fetchScripts(
  source: TerraformSource,
  dest: string,
  s3: S3Client,
  signal?: AbortSignal,
): Promise<FetchResult> {
  return source.type === "s3" ? fetchFromS3(s3, source, dest, signal) : fetchFromLocal(source.location, dest);
}
