// The dashboard's static files, read once at start and served under content-hashed names: the
// stylesheet, the compiled client script and idiomorph's own distributable from its npm package.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { AssetMissingError } from "./errors.js";

export interface Asset {
  path: string;
  type: string;
  body: Buffer;
  gzip: Buffer;
}

const here = dirname(fileURLToPath(import.meta.url));

function firstExisting(candidates: string[], what: string): string {
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new AssetMissingError(
      `${what} not found (looked at ${candidates.join(", ")}); run \`npm run build\``,
    );
  return found;
}

/** idiomorph's browser build, found in the nearest node_modules above this package. */
function idiomorphFile(): string {
  const candidates: string[] = [];
  for (let dir = here; ; dir = dirname(dir)) {
    candidates.push(join(dir, "node_modules/idiomorph/dist/idiomorph.min.js"));
    if (dirname(dir) === dir) break;
  }
  return firstExisting(candidates, "idiomorph (npm package)");
}

function asset(name: string, ext: string, type: string, file: string): Asset {
  const body = readFileSync(file);
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  return { path: `/assets/${name}.${hash}.${ext}`, type, body, gzip: gzipSync(body, { level: 9 }) };
}

/** Loads the three assets (from src/ under tests, from dist/ when built). */
export function loadAssets(): { css: Asset; js: Asset; morph: Asset } {
  const css = firstExisting([join(here, "../assets/dashboard.css")], "assets/dashboard.css");
  const js = firstExisting(
    [join(here, "client/app.js"), join(here, "../dist/client/app.js")],
    "the compiled client (dist/client/app.js)",
  );
  return {
    css: asset("dashboard", "css", "text/css; charset=utf-8", css),
    js: asset("app", "js", "text/javascript; charset=utf-8", js),
    morph: asset("idiomorph", "js", "text/javascript; charset=utf-8", idiomorphFile()),
  };
}
