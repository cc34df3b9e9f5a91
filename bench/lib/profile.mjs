// CPU profile summaries: self time grouped by where the code comes from (npm package, workspace
// package, Node itself, GC), optionally through a bundle's source map.
import { readFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { SourceMap } from "node:module";

const BUNDLE_GLUE = "index.mjs (unmapped)";
const NODE_ONLY = "node built-ins (no caller of ours)";
const LOGGING = "logging (Powertools logger, stdout writes)";

/** The group a source path belongs to: an npm package (AWS SDK clients and Smithy folded together), a workspace package. */
export function groupOf(path) {
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = path.slice(nm + "node_modules/".length).split("/");
    const name = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? "?");
    if (name.startsWith("@aws-sdk/") || name.startsWith("@smithy/") || name.startsWith("@aws-crypto/"))
      return "AWS SDK (@aws-sdk, @smithy)";
    if (name.startsWith("@aws-lambda-powertools/")) return LOGGING;
    if (name === "pg" || name.startsWith("pg-") || name.startsWith("postgres-")) return "pg driver";
    return name;
  }
  if (path === BUNDLE_GLUE) return "bundle glue (esbuild runtime, banner)";
  if (path.startsWith("stackseam-builtin:")) return "node:http/https (loaded for the SDK)";
  // The State Manager's batching of log lines (its stdout writes) is logging, not engine logic.
  if (/packages\/state-manager\/(src|dist)\/logger\.[jt]s$/.test(path)) return LOGGING;
  const ws = /packages\/([a-z-]+)\/(src|dist)\//.exec(path);
  if (ws) return `@stackseam/${ws[1]}`;
  return path.split("/").slice(-2).join("/");
}

// The benchmark's own frames (the child's timer, the profiler) are callers of nobody's interest.
const isOwn = (path) =>
  typeof path === "string" && path !== "" && !path.startsWith("node:") && !path.includes("/bench/");

/**
 * CPU time per group, in ms, largest first. A sample in our own code (an npm or workspace
 * package; `locate(callFrame)` maps a frame to its source path, default its URL) counts for that
 * package; a sample inside Node's built-ins counts for the nearest own-code caller (so sockets,
 * streams and module loading are charged to whoever asked), else for Node itself.
 */
export function summariseProfile(profile, locate = (f) => f.url) {
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const groups = new Map();
  // Inside the catch-all group, which Node functions the time was in (for the report).
  const builtins = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const us = dt.get(node.id) ?? 0;
    const name = node.callFrame.functionName;
    if (us === 0 || name === "(idle)" || name === "(root)") continue;
    // The profiler's own work (serialising the profile on stop) is not the code under test.
    let own = false;
    for (let n = node; n && !own; n = byId.get(parent.get(n.id))) own = n.callFrame.url === "node:inspector";
    if (own) continue;
    let group = null;
    if (name === "(garbage collector)") group = "GC";
    else if (name === "(program)") group = "V8 (program: compile, IC, runtime)";
    else {
      for (let n = node; n && group === null; n = byId.get(parent.get(n.id))) {
        const path = locate(n.callFrame);
        if (isOwn(path)) group = groupOf(path);
      }
      if (group === null) {
        group = /^compile(SourceTextModule|Function)$|^wrapSafe$/.test(name)
          ? "V8 parse/compile of the module"
          : NODE_ONLY;
        if (group === NODE_ONLY) {
          const where = `${name || "(anonymous)"} (${node.callFrame.url.replace(/^node:internal\//, "") || "native"})`;
          builtins.set(where, (builtins.get(where) ?? 0) + us);
        }
      }
    }
    groups.set(group, (groups.get(group) ?? 0) + us);
    total += us;
  }
  return {
    totalMs: total / 1000,
    groups: [...groups]
      .map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total }))
      .sort((a, b) => b.ms - a.ms),
    builtins: [...builtins]
      .map(([name, us]) => ({ name, ms: us / 1000 }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 8),
  };
}

/** Maps frames of a bundle back to their original sources through its source map. */
export async function bundleLocator(bundleUrl, mapFile) {
  const map = new SourceMap(JSON.parse(await readFile(mapFile, "utf8")));
  return (frame) => {
    if (frame.url !== bundleUrl) return frame.url;
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
    return entry && "originalSource" in entry ? entry.originalSource : BUNDLE_GLUE;
  };
}

/** Profiles this thread between start() and stop() (stop returns the .cpuprofile object). */
export async function profiler(intervalUs = 200) {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: intervalUs });
  await session.post("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      return profile;
    },
  };
}

/** "AWS SDK 41% (12 ms), pg 10% (3 ms), …" for the top groups. */
export function profileLine(summary, top = 6) {
  return summary.groups
    .slice(0, top)
    .map((g) => `${g.name} ${g.pct.toFixed(0)}% (${g.ms.toFixed(g.ms >= 10 ? 0 : 1)} ms)`)
    .join(", ");
}
