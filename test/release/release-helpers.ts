import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export const root = resolve(import.meta.dirname, "../..");
export const TEST_VERSION = "0.0.0-test";
export const FUNCTIONS = ["state-manager", "task-satisfier"] as const;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell and never throws: the exit code is data for the assertions. */
export async function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<Run> {
  try {
    const r = await exec(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === "number" ? e.code : -1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? e.message,
    };
  }
}

/** Runs one of the release scripts with the Node that runs the tests (24). */
export function script(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return run(process.execPath, [join(root, "scripts", name), ...args], { env, cwd: root });
}

/** Builds the release into a fresh temporary folder; throws with the script's output on failure. */
export async function buildInto(prefix: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), prefix));
  const r = await script("build-release.mjs", ["--out", out, "--version", TEST_VERSION], env);
  if (r.code !== 0) throw new Error(`build-release failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return out;
}

/** A throwaway GnuPG home with one fresh ed25519 signing key; `stop` ends its agent and deletes it. */
export interface TestKey {
  home: string;
  fingerprint: string;
  publicKeyFile: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** Creates a GnuPG home (short path: gpg-agent's socket path has a length limit) holding a new key. */
export async function createTestKey(name: string): Promise<TestKey> {
  const home = await mkdtemp(join(tmpdir(), "ssgpg-"));
  const env = { ...process.env, GNUPGHOME: home };
  const uid = `${name} <${name.toLowerCase().replace(/\W+/g, "-")}@example.invalid>`;
  const gen = await run(
    "gpg",
    ["--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
    {
      env,
    },
  );
  if (gen.code !== 0) throw new Error(`gpg key generation failed: ${gen.stderr}`);
  const list = await run("gpg", ["--batch", "--with-colons", "--list-keys", uid], { env });
  const fingerprint = /^fpr:(?:[^:]*:){8}([0-9A-F]+):/m.exec(list.stdout)?.[1];
  if (!fingerprint) throw new Error(`no fingerprint for ${uid}:\n${list.stdout}`);
  const publicKeyFile = join(home, "public.asc");
  const exp = await run("gpg", ["--batch", "--armor", "--output", publicKeyFile, "--export", fingerprint], {
    env,
  });
  if (exp.code !== 0) throw new Error(`gpg export failed: ${exp.stderr}`);
  return {
    home,
    fingerprint,
    publicKeyFile,
    env,
    async stop() {
      await run("gpgconf", ["--homedir", home, "--kill", "all"], { env });
      await rm(home, { recursive: true, force: true });
    },
  };
}
