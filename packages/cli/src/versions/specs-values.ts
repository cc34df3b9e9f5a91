import { resolveConnection } from "../connection.js";
import { findSpecs, type SpecPlace } from "../spec-access.js";

/** The options of `stackseam specs` (see the registry), as its subcommands read them. */
export interface SpecsValues {
  bucket?: string;
  prefix?: string;
  specs?: string;
  "database-url"?: string;
  force?: boolean;
  "min-age"?: string;
  "dry-run"?: boolean;
  local?: boolean;
  json?: boolean;
  help?: boolean;
}

/**
 * Where the current specs and the live stacks are for `specs diff|versions|prune`: --specs, else
 * --bucket/--prefix, else what `send` would check against (the running dev, MACHINE_SPEC_DIR,
 * MACHINE_S3_BUCKET); the database from --database-url, DATABASE_URL or the running dev.
 */
export function currentPlaces(values: SpecsValues): { place: SpecPlace | null; databaseUrl?: string } {
  const conn = resolveConnection(values["database-url"] ? { databaseUrl: values["database-url"] } : {});
  const place: SpecPlace | null = values.bucket
    ? { kind: "s3", bucket: values.bucket, prefix: values.prefix ?? process.env.MACHINE_S3_KEY?.trim() ?? "" }
    : findSpecs({ specsFlag: values.specs, dev: conn.dev });
  return { place, ...(conn.databaseUrl ? { databaseUrl: conn.databaseUrl } : {}) };
}
