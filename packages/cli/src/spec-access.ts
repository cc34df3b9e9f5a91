import type { Machine } from "@stackseam/core";
import type { MachineSource } from "@stackseam/state-manager";
import type { DevInstance } from "./connection.js";

/** Where the CLI can read machine specs from, when it can. */
export type SpecPlace =
  | { kind: "dir"; dir: string; origin: "--specs" | "dev" | "MACHINE_SPEC_DIR" }
  | { kind: "s3"; bucket: string; prefix: string };

/**
 * The specs this command can see, in order: `--specs DIR`, the running dev's specs folder (when
 * the command talks to that dev), MACHINE_SPEC_DIR, then MACHINE_S3_BUCKET (+ MACHINE_S3_KEY) with
 * whatever AWS credentials the SDK finds. Null when none is configured.
 */
export function findSpecs(opts: {
  specsFlag?: string | undefined;
  dev?: DevInstance | null | undefined;
  env?: NodeJS.ProcessEnv;
}): SpecPlace | null {
  const env = opts.env ?? process.env;
  if (opts.specsFlag) return { kind: "dir", dir: opts.specsFlag, origin: "--specs" };
  if (opts.dev) return { kind: "dir", dir: opts.dev.specsDir, origin: "dev" };
  if (env.MACHINE_SPEC_DIR?.trim())
    return { kind: "dir", dir: env.MACHINE_SPEC_DIR.trim(), origin: "MACHINE_SPEC_DIR" };
  if (env.MACHINE_S3_BUCKET?.trim()) {
    return { kind: "s3", bucket: env.MACHINE_S3_BUCKET.trim(), prefix: env.MACHINE_S3_KEY?.trim() ?? "" };
  }
  return null;
}

/** What a spec source says about one machine name. */
export type MachineAnswer =
  | { kind: "found"; machine: Machine }
  /** The file exists but does not compile here (a running dev may still serve its last good version). */
  | { kind: "invalid"; reason: string }
  | { kind: "unknown"; known: string[] };

/** Machines from a spec place, read the way the State Manager reads them. */
export interface SpecCatalogue {
  /** For messages: the folder or s3://bucket/prefix. */
  where: string;
  names(): Promise<string[]>;
  lookup(name: string): Promise<MachineAnswer>;
  close(): void;
}

/** Opens a spec place with the State Manager's own machine sources (same parsing, same rules). */
export async function openSpecs(place: SpecPlace): Promise<SpecCatalogue> {
  const sm = await import("@stackseam/state-manager");
  let source: MachineSource;
  let where: string;
  let close = () => {};
  if (place.kind === "dir") {
    source = sm.localMachineSource({ dir: place.dir, keepLastGood: false });
    where = place.dir;
  } else {
    const { S3Client } = await import("@aws-sdk/client-s3");
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    const s3 = new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {});
    source = sm.s3MachineSource({ s3, bucket: place.bucket, prefix: place.prefix });
    where = `s3://${place.bucket}/${sm.folderPrefix(place.prefix)}`;
    close = () => s3.destroy();
  }
  let names: Promise<string[]> | null = null;
  const catalogue: SpecCatalogue = {
    where,
    // A first refresh reports every spec the source holds.
    names: () => {
      names ??= source.refresh().then((results) =>
        results
          .filter((r) => !r.removed)
          .map((r) => r.machine)
          .sort(),
      );
      return names;
    },
    async lookup(name) {
      const known = await catalogue.names();
      if (!known.includes(name)) return { kind: "unknown", known };
      const found = await source.get(name);
      return found.ok ? { kind: "found", machine: found.machine } : { kind: "invalid", reason: found.reason };
    },
    close,
  };
  return catalogue;
}
