import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type DeclaredBackend, declaredBackend, HclSyntaxError, isConfigFile } from "./hcl-backend.js";

/** The file Stackseam adds to a module that declares no backend (Terraform merges `*_override.tf` last). */
export const BACKEND_OVERRIDE_FILE = "stackseam_backend_override.tf";
export const BACKEND_OVERRIDE_TEXT = `# Written by Stackseam: this module declares no backend, so its state goes to the deployment's
# state bucket (TERRAFORM_STATE_BUCKET). Bucket, key, region and locking come from -backend-config.
terraform {
  backend "s3" {}
}
`;

/** Where a deployment keeps state for modules that declare no backend (TERRAFORM_STATE_BUCKET…). */
export interface StateBucket {
  bucket: string;
  region: string;
}

/**
 * An S3-compatible endpoint for S3 backends (`stackseam dev`'s embedded S3): path-style addressing,
 * and no calls to STS, IAM or the instance metadata service, which such servers do not have.
 */
export interface S3BackendEndpoint {
  url: string;
}

export interface BackendSettings {
  stateBucket?: StateBucket;
  s3Endpoint?: S3BackendEndpoint;
}

/** How `init` gets its backend: the args, and the file to add when Stackseam supplies the backend. */
export type BackendPlan =
  | {
      ok: true;
      mode: "declared" | "supplied";
      /** The backend's type (`s3`, `gcs`…). */
      type: string;
      backendConfig: [string, string][];
      /** Present when Stackseam supplies the backend: written into the scripts folder. */
      file?: { name: string; text: string };
    }
  | { ok: false; description: string };

function endpointConfig(endpoint: S3BackendEndpoint | undefined): [string, string][] {
  if (!endpoint) return [];
  return [
    ["endpoints", `{s3=${JSON.stringify(endpoint.url)}}`],
    ["use_path_style", "true"],
    ["skip_credentials_validation", "true"],
    ["skip_requesting_account_id", "true"],
    ["skip_metadata_api_check", "true"],
    ["skip_region_validation", "true"],
  ];
}

/**
 * The backend plan for a module, from what it declares: a declared backend gets the stack's key
 * (as always); no backend and a state bucket → Stackseam supplies an S3 backend with locking; no
 * backend and no bucket → refused, because local state would be deleted with the temp dir.
 */
export function planBackend(declared: DeclaredBackend, key: string, settings: BackendSettings): BackendPlan {
  if (declared.kind === "cloud") {
    return {
      ok: false,
      description: `refused before terraform init: ${declared.file}:${declared.line} declares a cloud block (HCP Terraform). Stackseam keeps one state per stack under the backend key ${key}, which a cloud block cannot take: declare a backend such as s3 instead; nothing was run`,
    };
  }
  if (declared.kind === "backend") {
    const extra = declared.type === "s3" ? endpointConfig(settings.s3Endpoint) : [];
    return { ok: true, mode: "declared", type: declared.type, backendConfig: [["key", key], ...extra] };
  }
  if (!settings.stateBucket) {
    return {
      ok: false,
      description: `refused before terraform init: the module declares no backend, so its state would live in the run's temp dir and be deleted with it (a later destroy would find nothing to destroy). Either declare one in the module (terraform { backend "s3" { bucket = "…", region = "…", use_lockfile = true } }; Stackseam sets its key to ${key}) or set TERRAFORM_STATE_BUCKET (and TERRAFORM_STATE_REGION) on the Task Satisfier so Stackseam supplies an S3 backend; nothing was run`,
    };
  }
  return {
    ok: true,
    mode: "supplied",
    type: "s3",
    backendConfig: [
      ["bucket", settings.stateBucket.bucket],
      ["key", key],
      ["region", settings.stateBucket.region],
      ["use_lockfile", "true"],
      ...endpointConfig(settings.s3Endpoint),
    ],
    file: { name: BACKEND_OVERRIDE_FILE, text: BACKEND_OVERRIDE_TEXT },
  };
}

/**
 * Reads the root module's configuration files in `dir` (not its subfolders: a backend counts only
 * in the root module) and plans the backend; writes the override file when Stackseam supplies it.
 */
export async function prepareBackend(
  dir: string,
  key: string,
  settings: BackendSettings,
): Promise<BackendPlan> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: { name: string; text: string }[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !isConfigFile(entry.name) || entry.name === BACKEND_OVERRIDE_FILE) continue;
    files.push({ name: entry.name, text: await readFile(join(dir, entry.name), "utf8") });
  }
  let declared: DeclaredBackend;
  try {
    declared = declaredBackend(files);
  } catch (err) {
    if (!(err instanceof HclSyntaxError)) throw err;
    return {
      ok: false,
      description: `refused before terraform init: cannot tell which backend the module declares, because ${err.message}; fix the file (terraform validate shows the same problem); nothing was run`,
    };
  }
  const plan = planBackend(declared, key, settings);
  if (plan.ok && plan.file) await writeFile(join(dir, plan.file.name), plan.file.text);
  return plan;
}
