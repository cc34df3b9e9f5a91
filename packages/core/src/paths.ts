export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** Dotted/bracket notation: `states.PROVISION.on.NEXT[0].state`, `tasks["my.task"].config`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Splits an ajv instancePath (JSON pointer) into segments; array indexes become numbers when the data is an array. */
export function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === "") return [];
  const path: PathSegment[] = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(node)) {
      const index = Number(key);
      path.push(index);
      node = node[index];
    } else {
      path.push(key);
      node = isRecord(node) ? node[key] : undefined;
    }
  }
  return path;
}

/** The value at `path` inside `data`, or undefined. */
export function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let node = data;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === "number") node = node[segment];
    else if (isRecord(node) && typeof segment === "string" && Object.hasOwn(node, segment))
      node = node[segment];
    else return undefined;
  }
  return node;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
