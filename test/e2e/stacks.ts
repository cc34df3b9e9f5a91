import { cli } from "./dev-harness.js";

/** `stacks show <id> --json`, parsed; null when the stack does not exist (never created, or removed). */
export async function showStack(dataDir: string, id: string): Promise<Record<string, unknown> | null> {
  const r = await cli(dataDir, ["stacks", "show", id, "--json"]);
  if (r.code !== 0) {
    if (/not found|no stack|does not exist/i.test(r.stderr + r.stdout)) return null;
    throw new Error(`stacks show ${id} exited ${r.code}: ${r.stderr}${r.stdout}`);
  }
  const parsed = JSON.parse(r.stdout) as Record<string, unknown> | null;
  if (parsed === null) return null;
  return (parsed.stack as Record<string, unknown> | undefined) ?? parsed;
}

/** The state of a `stacks show --json` result. */
export function stackStateOf(stack: Record<string, unknown>): string | undefined {
  return typeof stack.state === "string" ? stack.state : undefined;
}

/** The tasks of a `stacks show --json` result. */
export function stackTasksOf(
  stack: Record<string, unknown>,
): { name: string; status: string; description?: string }[] {
  return Array.isArray(stack.tasks)
    ? (stack.tasks as { name: string; status: string; description?: string }[])
    : [];
}
