/**
 * The remote runner's process entry point (the ECS container's command, or a child process of
 * `stackseam dev`): `node runner-main.js` with the task message in STACKSEAM_TASK_MESSAGE.
 */
import { runnerMain } from "./runner/main.js";

process.exitCode = await runnerMain(process.env);
// Idle keep-alive sockets must not hold the container open once the report is sent.
setTimeout(() => process.exit(), 5_000).unref();
