import { access, constants, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface TerraformEnvOptions {
  /** Extra variables for every Terraform process (dev: the embedded S3 endpoint, region, test credentials). */
  env?: Record<string, string>;
  /** Provider plugin cache shared by the runs of this container; null: none. */
  pluginCacheDir?: string | null;
  /** A provider filesystem mirror (e.g. in a Lambda layer): providers come only from there. */
  providersMirror?: string;
}

async function writable(dir: string | undefined): Promise<boolean> {
  if (!dir) return false;
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The CLI configuration that makes Terraform install providers only from a local mirror. */
export function mirrorCliConfig(mirror: string): string {
  return `# Written by Stackseam (TERRAFORM_PROVIDERS_MIRROR): providers come from this folder only, no network.
provider_installation {
  filesystem_mirror {
    path = ${JSON.stringify(mirror).replaceAll("${", "$${").replaceAll("%{", "%%{")}
  }
}
`;
}

/**
 * The child's environment: the function's own (credentials for the backend and providers) plus
 * automation settings, a per-run TF_DATA_DIR, a writable HOME when the current one is not
 * (Lambda's file system is read-only outside /tmp), the shared plugin cache, and a CLI config file
 * when providers come from a mirror. `root` is the run's temp dir.
 */
export async function terraformEnv(root: string, opts: TerraformEnvOptions): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    TF_DATA_DIR: join(root, "tf-data"),
  };
  if (!(await writable(env.HOME))) {
    env.HOME = join(root, "home");
    await mkdir(env.HOME, { recursive: true });
  }
  // A cache the deployment set itself wins over ours.
  if (!env.TF_PLUGIN_CACHE_DIR && opts.pluginCacheDir) {
    await mkdir(opts.pluginCacheDir, { recursive: true });
    env.TF_PLUGIN_CACHE_DIR = opts.pluginCacheDir;
  }
  if (env.TF_PLUGIN_CACHE_DIR) {
    // Each run's lock file is thrown away with its temp dir, so the cache may fill it; a module
    // that ships .terraform.lock.hcl still gets its checksums verified.
    env.TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE ??= "true";
  }
  if (opts.providersMirror) {
    const file = join(root, "terraform.rc");
    await writeFile(file, mirrorCliConfig(opts.providersMirror));
    env.TF_CLI_CONFIG_FILE = file;
  }
  return env;
}

/** What `terraformEnv` adds, for a dry run (no files written). */
export function plannedEnv(opts: TerraformEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    ...Object.fromEntries(
      Object.entries(opts.env ?? {}).map(([k, v]) => [k, /SECRET|TOKEN|PASSWORD/.test(k) ? "<set>" : v]),
    ),
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    TF_DATA_DIR: "<temp dir>/tf-data",
  };
  const cache = process.env.TF_PLUGIN_CACHE_DIR || opts.pluginCacheDir;
  if (cache) env.TF_PLUGIN_CACHE_DIR = cache;
  if (opts.providersMirror) env.TF_CLI_CONFIG_FILE = "<temp dir>/terraform.rc (filesystem_mirror)";
  return env;
}
