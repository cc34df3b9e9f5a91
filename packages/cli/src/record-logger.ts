import { Logger, type LogItem } from "@aws-lambda-powertools/logger";

/** A structured log record, as Powertools builds it. */
export type LogRecord = Record<string, unknown>;

type LoggerOptions = ConstructorParameters<typeof Logger>[0];

/**
 * A Powertools logger whose records go to `onRecord` instead of stdout: a command runs the State
 * Manager's code in-process and prints what it did in its own words.
 */
export function recordLogger(serviceName: string, onRecord: (record: LogRecord) => void): Logger {
  // Declared here so printLog reaches onRecord without an instance field (the constructor may log).
  class RecordLogger extends Logger {
    protected override printLog(_level: number, log: LogItem): void {
      onRecord(log.getAttributes() as LogRecord);
    }

    protected override createLogger(options?: LoggerOptions): Logger {
      return new RecordLogger(options);
    }
  }
  return new RecordLogger({ serviceName, logLevel: "INFO" } as LoggerOptions);
}
