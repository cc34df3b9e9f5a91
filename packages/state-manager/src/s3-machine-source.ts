import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { MAX_SPEC_BYTES } from "@stackseam/core";
import { MachineSourceError } from "./errors.js";
import {
  compileEntry,
  MACHINE_NAME,
  type MachineLookup,
  type MachineSource,
  machineNameOf,
  oversizedEntry,
  type ReloadResult,
  type SpecEntry,
  unknownMachine,
} from "./machine-source.js";

export interface S3MachineSourceOptions {
  s3: S3Client;
  bucket: string;
  /** Key prefix (MACHINE_S3_KEY); a non-empty prefix is treated as a folder ("specs" means "specs/"). */
  prefix?: string;
  /** How long a listing is trusted before it is revalidated (MACHINE_CACHE_TTL_SECONDS). */
  ttlSeconds?: number;
  /** Milliseconds clock, injectable for tests. */
  now?: () => number;
  /** Keep serving the previous valid version when a spec turns invalid (default: refuse its events). */
  keepLastGood?: boolean;
  onReload?: (results: ReloadResult[]) => void;
  /** A revalidation failed (S3 unreachable…) and the cached specs stay in use until the next TTL. */
  onReloadError?: (error: MachineSourceError) => void;
}

export const DEFAULT_CACHE_TTL_SECONDS = 30;

/** Normalises a key prefix so "specs" does not also match "specs-old/…". */
export function folderPrefix(prefix: string | undefined): string {
  const p = (prefix ?? "").replace(/^\/+/, "");
  return p === "" || p.endsWith("/") ? p : `${p}/`;
}

interface Listed {
  key: string;
  etag: string;
  size: number;
}

/**
 * Specs from S3: every `.yml`/`.yaml` object under the prefix (machine name = file name without
 * extension). Cached per container; after the TTL one paginated listing revalidates by ETag and
 * only changed objects are fetched again, so steady-state events cost no S3 request.
 */
export function s3MachineSource(opts: S3MachineSourceOptions): MachineSource {
  const prefix = folderPrefix(opts.prefix);
  const ttlMs = (opts.ttlSeconds ?? DEFAULT_CACHE_TTL_SECONDS) * 1000;
  const now = opts.now ?? Date.now;
  const where = `s3://${opts.bucket}/${prefix}`;
  let entries = new Map<string, SpecEntry>();
  let loadedAt: number | null = null;
  let inflight: Promise<ReloadResult[]> | null = null;

  async function list(): Promise<Map<string, Listed[]>> {
    const byName = new Map<string, Listed[]>();
    let token: string | undefined;
    do {
      const page = await opts.s3.send(
        new ListObjectsV2Command({ Bucket: opts.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const obj of page.Contents ?? []) {
        if (!obj.Key) continue;
        const name = machineNameOf(obj.Key.slice(obj.Key.lastIndexOf("/") + 1));
        if (!name) continue;
        const found = byName.get(name) ?? [];
        found.push({ key: obj.Key, etag: obj.ETag ?? "", size: obj.Size ?? 0 });
        byName.set(name, found);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return byName;
  }

  async function fetchText(
    key: string,
  ): Promise<{ text: string; etag: string } | { bytes: number; etag: string }> {
    const res = await opts.s3.send(new GetObjectCommand({ Bucket: opts.bucket, Key: key }));
    const bytes = res.ContentLength ?? 0;
    if (bytes > MAX_SPEC_BYTES) {
      // Replaced by a bigger object since the listing: leave the body unread.
      (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
      return { bytes, etag: res.ETag ?? "" };
    }
    return { text: (await res.Body?.transformToString("utf8")) ?? "", etag: res.ETag ?? "" };
  }

  async function load(): Promise<ReloadResult[]> {
    const listed = await list();
    const next = new Map<string, SpecEntry>();
    const results: ReloadResult[] = [];
    await Promise.all(
      [...listed].map(async ([name, objects]) => {
        const previous = entries.get(name);
        const [only, ...others] = objects;
        if (!only) return;
        if (others.length > 0) {
          const keys = objects.map((o) => o.key).join(", ");
          const lookup: MachineLookup = {
            ok: false,
            reason: `machine ${name} is ambiguous: several specs share its name (${keys})`,
            diagnostics: [],
          };
          next.set(name, { source: keys, version: keys, lookup, lastGood: previous?.lastGood ?? null });
          results.push({
            machine: name,
            source: keys,
            ok: false,
            diagnostics: [],
            keptLastGood: false,
            reason: lookup.reason,
          });
          return;
        }
        const source = `s3://${opts.bucket}/${only.key}`;
        if (previous && previous.source === source && previous.version === only.etag && only.etag !== "") {
          next.set(name, previous);
          return;
        }
        const keepLastGood = opts.keepLastGood ?? false;
        // An oversized spec is refused from the listing's size: downloading it would cost the memory.
        const fetched =
          only.size > MAX_SPEC_BYTES ? { bytes: only.size, etag: only.etag } : await fetchText(only.key);
        const { entry, result } =
          "text" in fetched
            ? compileEntry(name, source, fetched.etag, fetched.text, previous, keepLastGood)
            : oversizedEntry(name, source, fetched.etag, fetched.bytes, previous, keepLastGood);
        next.set(name, entry);
        results.push(result);
      }),
    );
    for (const [name, entry] of entries) {
      if (!next.has(name)) {
        results.push({
          machine: name,
          source: entry.source,
          ok: true,
          diagnostics: [],
          keptLastGood: false,
          removed: true,
        });
      }
    }
    entries = next;
    loadedAt = now();
    if (results.length > 0) opts.onReload?.(results);
    return results;
  }

  function reload(): Promise<ReloadResult[]> {
    inflight ??= load().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  async function fresh(): Promise<void> {
    if (loadedAt !== null && now() - loadedAt < ttlMs) return;
    try {
      await reload();
    } catch (cause) {
      const error = new MachineSourceError(`cannot list machine specs in ${where}`, { cause });
      if (loadedAt === null) throw error;
      // S3 hiccup after a good load: keep serving what we have and try again after another TTL.
      loadedAt = now();
      opts.onReloadError?.(error);
    }
  }

  return {
    async get(name) {
      if (!MACHINE_NAME.test(name)) return unknownMachine(name, where);
      await fresh();
      return entries.get(name)?.lookup ?? unknownMachine(name, where);
    },
    async all() {
      await fresh();
      return new Map([...entries].map(([name, entry]) => [name, entry.lookup]));
    },
    cached(name) {
      if (loadedAt === null) return undefined;
      // Revalidate after the TTL for the events that follow; this one uses what is loaded.
      if (now() - loadedAt >= ttlMs) fresh().catch(() => {});
      return entries.get(name)?.lookup ?? unknownMachine(name, where);
    },
    async refresh() {
      try {
        return await reload();
      } catch (cause) {
        throw new MachineSourceError(`cannot list machine specs in ${where}`, { cause });
      }
    },
  };
}
