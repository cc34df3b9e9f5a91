import { Logger } from "@aws-lambda-powertools/logger";

export const SERVICE_NAME = "stackseam-state-manager";

/** The State Manager's structured JSON logger (level from POWERTOOLS_LOG_LEVEL, default INFO). */
export function createLogger(): Logger {
  return new Logger({ serviceName: SERVICE_NAME });
}
