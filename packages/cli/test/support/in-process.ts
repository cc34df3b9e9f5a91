import { vi } from "vitest";
import type { Run } from "./cli.js";

/**
 * Runs a command's `run(args)` in this process, capturing what it writes: for the argument and
 * usage cases, which need no process of their own (a bin start costs about a second each).
 */
export async function runInProcess(run: (args: string[]) => Promise<number>, args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await run(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
