#!/usr/bin/env node
// What parsing an oversized spec costs a container: wall time and peak memory (max RSS) of one
// parseSpec call on a generated spec of --mb megabytes (many states, each with a handler and a task).
// Run in a fresh process so the peak belongs to this parse alone. Not a test: nothing is asserted.
//
//   node bench/spec-size.mjs [--mb 10] [--core path/to/core/dist/index.js]
//
// --core points at another build of @stackseam/core (e.g. one built from an older commit) to compare.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { mb: { type: "string", default: "10" }, core: { type: "string" } },
});
const { parseSpec } = values.core
  ? await import(pathToFileURL(resolve(values.core)).href)
  : await import("@stackseam/core");

/** A valid-looking spec of about `bytes` UTF-8 bytes. */
function bigSpec(bytes) {
  const head = "version: 1\nevents: [GO, DESTROY]\nstates:\n";
  const parts = [head];
  const tasks = ["tasks:\n"];
  let size = head.length + tasks[0].length;
  let i = 0;
  for (; size < bytes; i++) {
    const name = i === 0 ? "INIT" : `S${i}`;
    // INIT has no tasks (they would not run); every other state advances on NEXT once its task is done.
    const state =
      i === 0
        ? `  INIT:\n    on:\n      GO: [{ action: advance, state: S1 }]\n`
        : `  ${name}:\n    tasks: [t${i}]\n    on:\n      NEXT: [{ action: advance, state: S${i + 1} }]\n      DESTROY: [{ action: advance, state: END }]\n`;
    const task = `  t${i}:\n    executor: lambda\n    config: { name: "arn:aws:lambda:eu-west-1:123456789012:function:f${i}" }\n`;
    parts.push(state);
    tasks.push(task);
    size += state.length + task.length;
  }
  parts.push(
    `  S${i}:\n    on:\n      DESTROY: [{ action: advance, state: END }]\n  END:\n    terminal: true\n`,
  );
  return parts.join("") + tasks.join("");
}

const text = bigSpec(Number(values.mb) * 1024 * 1024);
const rssBefore = process.resourceUsage().maxRSS;
const t0 = performance.now();
const result = parseSpec(text, { name: "big", file: "big.yml" });
const ms = performance.now() - t0;
const first = result.diagnostics.find((d) => d.severity === "error");
console.log(
  JSON.stringify({
    specBytes: Buffer.byteLength(text),
    parseMs: Math.round(ms),
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    maxRssBeforeParseMB: Math.round(rssBefore / 1024),
    machine: result.machine !== null,
    errors: result.diagnostics.filter((d) => d.severity === "error").length,
    firstError: first ? `${first.line}:${first.column}: ${first.message}` : null,
  }),
);
