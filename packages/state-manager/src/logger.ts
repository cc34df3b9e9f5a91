import { Logger, type LogItem, LogLevelThreshold } from "@aws-lambda-powertools/logger";

export const SERVICE_NAME = "stackseam-state-manager";

type LoggerOptions = ConstructorParameters<typeof Logger>[0];

/** How long a held line may wait for its batch to end before it is written anyway. */
export const HOLD_MS = 100;
// Past this many held characters the lines go out at once (a batch of 10 events is ~6 KB).
const HOLD_CHARS = 64 * 1024;

/** The sink held lines are written to: stdout, as Powertools writes every line. */
export type LineSink = (text: string) => void;

const stdout: LineSink = (text) => {
  process.stdout.write(text);
};

const primitive = (v: unknown) => v === null || (typeof v !== "object" && typeof v !== "bigint");

/** Whether every value is a primitive other than a bigint, or an array of such. */
function plain(attributes: Record<string, unknown>): boolean {
  for (const key in attributes) {
    const v = attributes[key];
    if (primitive(v)) continue;
    if (!Array.isArray(v) || !v.every(primitive)) return false;
  }
  return true;
}

/**
 * A Powertools logger that can hold INFO and DEBUG lines while a batch runs and write them in one
 * write when it ends: each line is a write to the Lambda's stdout pipe otherwise, which cost the
 * engine more time per event than any other single call (docs/performance.md §1). The lines are
 * the ones Powertools would print, in order; Lambda splits stdout on newlines, so each is still
 * one CloudWatch event. A WARN or worse line writes what is held first, then itself, at once; no
 * line waits longer than HOLD_MS, so a batch that hangs still shows what it did.
 */
export class BatchingLogger extends Logger {
  #held: string[] = [];
  #chars = 0;
  #holds = 0;
  #timer: NodeJS.Timeout | undefined;
  #sink: LineSink = stdout;

  /** Writes held lines to `sink` instead of stdout (tests). */
  writeTo(sink: LineSink): this {
    this.#sink = sink;
    return this;
  }

  /** Starts holding lines; every hold() is ended by one release(). */
  hold(): void {
    this.#holds++;
  }

  /** Ends a hold; when none is left, writes the held lines. */
  release(): void {
    if (this.#holds > 0) this.#holds--;
    if (this.#holds === 0) this.flush();
  }

  /** Writes the held lines now, in one write. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#held.length === 0) return;
    const text = `${this.#held.join("\n")}\n`;
    this.#held = [];
    this.#chars = 0;
    this.#sink(text);
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    // Powertools' constructor may log before this class's fields exist; development mode indents
    // its lines, which would then not be one line each.
    if (
      !(#holds in this) ||
      this.#holds === 0 ||
      logLevel >= LogLevelThreshold.WARN ||
      process.env.POWERTOOLS_DEV
    ) {
      this.flush();
      super.printLog(logLevel, log);
      return;
    }
    log.prepareForPrint();
    const attributes = log.getAttributes();
    // Powertools' replacer only changes errors, bigints and cycles: a line of plain values (every
    // event line) comes out the same without it, at a fraction of the cost.
    const line = plain(attributes)
      ? JSON.stringify(attributes)
      : JSON.stringify(attributes, this.getJsonReplacer());
    this.#held.push(line);
    this.#chars += line.length;
    if (this.#chars >= HOLD_CHARS) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), HOLD_MS);
      this.#timer.unref();
    }
  }

  protected override createLogger(options?: LoggerOptions): Logger {
    return new BatchingLogger(options);
  }
}

/** Whether a logger can hold a batch's lines (one from createLogger can; one a caller passes may not). */
export function canHold(logger: Logger): logger is BatchingLogger {
  return logger instanceof BatchingLogger;
}

/** The State Manager's structured JSON logger (level from POWERTOOLS_LOG_LEVEL, default INFO). */
export function createLogger(): BatchingLogger {
  return new BatchingLogger({ serviceName: SERVICE_NAME });
}
