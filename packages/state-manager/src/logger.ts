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

/** The keys Powertools drops from a line's extra fields (with a warning, or silently): never on the fast path. */
const RESERVED = ["level", "message", "sampling_rate", "service", "timestamp", "__proto__", "constructor"];

/** A value JSON writes as it is: a string, number or boolean, or an array of those and nulls. */
const scalar = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";
const printable = (v: unknown) => scalar(v) || (Array.isArray(v) && v.every((x) => x === null || scalar(x)));

/** Constructor options that change what a line holds or how it is serialised. */
const SHAPING_OPTIONS = ["logRecordOrder", "jsonReplacerFn", "logFormatter", "customConfigService"];
/** The Logger methods that change what every line carries (see BatchingLogger's template). */
const TEMPLATE_CHANGERS = [
  "addContext",
  "appendKeys",
  "appendPersistentKeys",
  "removeKeys",
  "removePersistentKeys",
  "addPersistentLogAttributes",
  "setPersistentLogAttributes",
  "removePersistentLogAttributes",
  "resetKeys",
  "setLogLevel",
] as const satisfies readonly (keyof Logger)[];
// What the probe line of a batch's template carries (see #lineTemplate); never printed.
const PROBE_MESSAGE = "stackseam:probe";
const PROBE_KEY = "stackseam:probe";

/** What every INFO line of a batch shares, as Powertools prints it. */
interface LineTemplate {
  /** The level's name. */
  level: string;
  /** The keys the fields of a line may not use (they are the template's, or reserved). */
  taken: Set<string>;
  /** The shared attributes after the timestamp, as JSON members with a leading comma ("" if none). */
  shared: string;
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
  // Options that shape lines were given: every line is serialised by Powertools' own rules.
  #shaped: boolean;
  // Development mode when the logger was made (Powertools reads it then).
  #devAtStart: boolean;
  // This batch's line template: undefined until the first line needs it, null when its lines take
  // Powertools' own path (see infoLine).
  #template: LineTemplate | null | undefined;

  constructor(options?: LoggerOptions) {
    super(options);
    this.#shaped =
      options !== undefined &&
      SHAPING_OPTIONS.some((k) => (options as Record<string, unknown>)[k] !== undefined);
    this.#devAtStart = process.env.POWERTOOLS_DEV !== undefined;
  }

  /** Writes held lines to `sink` instead of stdout (tests). */
  writeTo(sink: LineSink): this {
    this.#sink = sink;
    return this;
  }

  /** Starts holding lines; every hold() is ended by one release(). */
  hold(): void {
    this.#holds++;
    this.#template = undefined;
  }

  /** Ends a hold; when none is left, writes the held lines. */
  release(): void {
    if (this.#holds > 0) this.#holds--;
    this.#template = undefined;
    if (this.#holds === 0) this.flush();
  }

  /**
   * Logs `message` at INFO with `fields`, exactly as info(message, fields) prints it. While lines
   * are held, the line is built from a template of what every line of the batch shares (service,
   * Lambda context, trace id, persistent keys), which Powertools then works out once per batch
   * instead of once per line: that per-line work, not the line's JSON, was what logging cost an
   * event. A field the template cannot place as Powertools would (a key the item has or drops, an
   * index-like key, a value other than a string, number, boolean or array of those), or a logger
   * set up beyond what the template covers (see #lineTemplate), takes info() itself.
   */
  infoLine(message: string, fields: Record<string, unknown>): void {
    const t = this.#holds > 0 && message !== "" ? this.#lineTemplate() : null;
    if (!t) {
      this.info(message, fields);
      return;
    }
    // The fields Powertools would print, in their order; one JSON.stringify for all of them.
    const printed: Record<string, unknown> = {};
    let any = false;
    for (const key in fields) {
      const v = fields[key];
      // Powertools drops these from a line (removeEmptyKeys).
      if (v === undefined || v === null || v === "") continue;
      // A key starting with a digit may be an array index, which an object orders before all
      // other keys: Powertools' line would then start with it.
      const digit = key.charCodeAt(0) - 48;
      if (t.taken.has(key) || (digit >= 0 && digit <= 9) || !printable(v)) {
        this.info(message, fields);
        return;
      }
      printed[key] = v;
      any = true;
    }
    const head = JSON.stringify({ level: t.level, message, timestamp: new Date().toISOString() });
    this.#keep(`${head.slice(0, -1)}${t.shared}${any ? `,${JSON.stringify(printed).slice(1)}` : "}"}`);
  }

  /**
   * The batch's line template, made from a probe line Powertools builds (and this never prints),
   * or null when its lines must take info(): INFO not printed, options that shape lines (a key
   * order, a JSON replacer, a formatter), Powertools' log buffer or development mode on, a time
   * zone other than UTC (Powertools then writes local time), keys not in Powertools' default
   * order, or shared values that are not plain.
   */
  #lineTemplate(): LineTemplate | null {
    if (this.#template !== undefined) return this.#template;
    this.#template = null;
    const tz = process.env.TZ;
    if (
      this.#shaped ||
      this.#devAtStart ||
      this.level > LogLevelThreshold.INFO ||
      process.env.POWERTOOLS_DEV !== undefined ||
      (tz && !tz.includes("UTC")) ||
      this.shouldBufferLog(process.env._X_AMZN_TRACE_ID, LogLevelThreshold.INFO)
    )
      return null;
    const probe = this.createAndPopulateLogItem(LogLevelThreshold.INFO, PROBE_MESSAGE, [{ [PROBE_KEY]: 1 }]);
    // Every key the item has, empty ones too: a field of that name would take its place in
    // Powertools' line, not come last.
    const taken = new Set([...Object.keys(probe.getAttributes()), ...RESERVED]);
    probe.prepareForPrint();
    const attributes = probe.getAttributes();
    const keys = Object.keys(attributes);
    if (
      keys[0] !== "level" ||
      keys[1] !== "message" ||
      keys[2] !== "timestamp" ||
      keys[keys.length - 1] !== PROBE_KEY ||
      attributes.message !== PROBE_MESSAGE ||
      typeof attributes.level !== "string"
    )
      return null;
    const shared: Record<string, unknown> = {};
    for (const key of keys.slice(3, -1)) shared[key] = attributes[key];
    if (!plain(shared)) return null;
    const json = JSON.stringify(shared);
    this.#template = {
      level: attributes.level,
      taken,
      shared: json === "{}" ? "" : `,${json.slice(1, -1)}`,
    };
    return this.#template;
  }

  // Whatever changes what every line carries makes the template again: each of these methods is
  // Powertools' own, after dropping it. Powertools' constructor calls some of them before this
  // class's fields exist.
  static {
    for (const name of TEMPLATE_CHANGERS) {
      const own = Logger.prototype[name] as (this: Logger, ...args: unknown[]) => void;
      Object.defineProperty(BatchingLogger.prototype, name, {
        configurable: true,
        writable: true,
        value(this: BatchingLogger, ...args: unknown[]) {
          if (#template in this) this.#template = undefined;
          own.apply(this, args);
        },
      });
    }
  }

  /** Holds one finished line (see printLog). */
  #keep(line: string): void {
    this.#held.push(line);
    this.#chars += line.length;
    if (this.#chars >= HOLD_CHARS) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), HOLD_MS);
      this.#timer.unref();
    }
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
    this.#keep(
      !this.#shaped && plain(attributes)
        ? JSON.stringify(attributes)
        : JSON.stringify(attributes, this.getJsonReplacer()),
    );
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
