#!/usr/bin/env node
// A committed, executable shim: the bin must exist (and be linked by npm ci) before the first build.
import { existsSync } from "node:fs";

const main = new URL("../dist/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("stackseam: not built yet — run `npm run build` (or `npm run dev`) first\n");
  process.exit(2);
}
await import(main.href);
