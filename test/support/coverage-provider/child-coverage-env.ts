// A setup file (every test file, in its worker). During a coverage run the provider names a folder
// in STACKSEAM_CHILD_COVERAGE; copying it to NODE_V8_COVERAGE here makes every Node process a test
// starts from this worker's environment (the CLI bin, `stackseam dev`, the satisfier's runner)
// write its V8 coverage there. Node reads NODE_V8_COVERAGE only when a process starts, so the
// worker itself is not affected: its coverage comes from vitest's inspector session as usual.
import { CHILD_COVERAGE_ENV } from "./child-coverage.js";

const dir = process.env[CHILD_COVERAGE_ENV];
if (dir) process.env.NODE_V8_COVERAGE = dir;
