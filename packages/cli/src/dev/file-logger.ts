import { createWriteStream, type WriteStream } from "node:fs";
import { Logger, type LogItem } from "@aws-lambda-powertools/logger";
import type { LogRecord } from "./live-log.js";

type LoggerOptions = ConstructorParameters<typeof Logger>[0];

function safeJson(record: LogRecord): string {
  return JSON.stringify(record, (_key, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value,
  );
}

/**
 * Powertools loggers whose JSON lines go to a file instead of stdout: the Lambdas log exactly
 * what they would in AWS, without flooding the dev terminal. Child loggers write to the same file.
 */
export function fileLoggerFactory(
  file: string,
  onRecord?: (record: LogRecord) => void,
): {
  /** A logger for one service; records `keep` turns down are neither written nor passed on. */
  logger(serviceName: string, keep?: (record: LogRecord) => boolean): Logger;
  close(): Promise<void>;
} {
  const stream: WriteStream = createWriteStream(file, { flags: "a" });
  const sink = (record: LogRecord) => {
    stream.write(`${safeJson(record)}\n`);
    onRecord?.(record);
  };

  // Declared inside the factory so printLog reaches the sink without an instance field, which
  // would not exist yet if the Logger constructor logs a warning.
  const make = (keep: ((record: LogRecord) => boolean) | undefined) => {
    class FileLogger extends Logger {
      protected override printLog(_level: number, log: LogItem): void {
        const record = log.getAttributes() as LogRecord;
        if (!keep || keep(record)) sink(record);
      }

      protected override createLogger(options?: LoggerOptions): Logger {
        return new FileLogger(options);
      }
    }
    return FileLogger;
  };

  return {
    logger: (serviceName, keep) => {
      const FileLogger = make(keep);
      return new FileLogger({ serviceName, logLevel: process.env.LOG_LEVEL ?? "INFO" } as LoggerOptions);
    },
    close: () => new Promise<void>((resolve) => stream.end(resolve)),
  };
}
