/** Everything written to stdout and stderr while capturing (the Powertools loggers write there). */
export interface Capture {
  text(): string;
  /** Lines that parse as JSON objects: the structured log records. */
  records(): Record<string, unknown>[];
  restore(): void;
}

/** Captures (and swallows) process output until restored, so logs can be searched. */
export function captureOutput(): Capture {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const grab = (chunk: unknown): boolean => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return true;
  };
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  return {
    text: () => chunks.join(""),
    records() {
      const found: Record<string, unknown>[] = [];
      for (const line of chunks.join("").split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const value: unknown = JSON.parse(line);
          if (value && typeof value === "object") found.push(value as Record<string, unknown>);
        } catch {
          // Not a log record.
        }
      }
      return found;
    },
    restore() {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}

/** Own property names of the built-in prototypes, to prove nothing was added to them. */
export function prototypeSnapshot(): string {
  return JSON.stringify(
    [Object.prototype, Array.prototype, Function.prototype, String.prototype].map((p) =>
      Object.getOwnPropertyNames(p).sort(),
    ),
  );
}
