import { isCarriable } from "@stackseam/core";
/** Records that must be processed in order, one after the other: those of one stack. */
export interface RecordGroup<T> {
  key: string;
  items: T[];
}

/** Groups items by key, keeping arrival order within each group and groups in first-seen order. */
export function groupInOrder<T>(items: readonly T[], keyOf: (item: T) => string): RecordGroup<T>[] {
  const groups = new Map<string, RecordGroup<T>>();
  for (const item of items) {
    const key = keyOf(item);
    let group = groups.get(key);
    if (!group) {
      group = { key, items: [] };
      groups.set(key, group);
    }
    group.items.push(item);
  }
  return [...groups.values()];
}

/** Runs `work` over the groups with at most `limit` running at once. */
export async function runBounded<T>(
  groups: readonly T[],
  limit: number,
  work: (group: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      const group = groups[next++];
      if (group !== undefined) await work(group);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, groups.length)) }, worker));
}

/** The best-effort event name of a message that failed validation, for history and logs. */
export function rawEventName(body: string): string | null {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === "object") {
      const o = parsed as { event?: unknown; action?: unknown };
      const name = typeof o.event === "string" ? o.event : typeof o.action === "string" ? o.action : null;
      // History must be able to store it: an unstorable name is shown as missing.
      return name === null || !isCarriable(name) ? null : name.slice(0, 64);
    }
  } catch {
    // Not JSON: there is no name to show.
  }
  return null;
}
