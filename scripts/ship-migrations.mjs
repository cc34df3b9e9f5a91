#!/usr/bin/env node
// The State Manager package's prepack/postpack step: `copy` puts the repository's migrations/
// into packages/state-manager/migrations/ so that a packed (installed) package carries them and
// `stackseam migrate` finds them next to it; `remove` deletes the copy again after packing, so a
// checkout keeps reading the repository's own folder.
import { cpSync, readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../migrations/", import.meta.url));
const target = fileURLToPath(new URL("../packages/state-manager/migrations/", import.meta.url));

const mode = process.argv[2];
rmSync(target, { recursive: true, force: true });
if (mode === "copy") {
  const files = readdirSync(source).filter((f) => /^\d+_[A-Za-z0-9_-]+\.sql$/.test(f));
  if (files.length === 0) throw new Error(`no migrations in ${source}`);
  for (const file of files) cpSync(`${source}${file}`, `${target}${file}`);
  console.error(`ship-migrations: ${files.length} migrations copied into ${target}`);
} else if (mode !== "remove") {
  console.error("usage: ship-migrations.mjs copy|remove");
  process.exit(2);
}
