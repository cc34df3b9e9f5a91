export type { EventResult } from "./apply-event.js";
export { FullBatchFailureError } from "./batch.js";
export { type DatabaseSource, loadConfig, type MachineLocator, type StateManagerConfig } from "./config.js";
export {
  changedStacks,
  countStacks,
  type HistoryPage,
  type HistoryPageOptions,
  hasEventKey,
  historyPage,
  isStackSort,
  latestHistoryId,
  latestMachineVersion,
  type MachineVersionInfo,
  machineVersionList,
  machineVersionSource,
  type SearchStacksOptions,
  STACK_SORTS,
  type StackFilter,
  type StackPage,
  type StackSort,
  type StateCount,
  searchStacks,
  stackTimers,
  stateCounts,
  type TimerRow,
} from "./dashboard-queries.js";
export {
  createPool,
  DEFAULT_POOL_MAX,
  databaseFromPool,
  type OpenDatabaseOptions,
  openDatabase,
  type SslMode,
} from "./database.js";
export {
  ConfigError,
  DatabaseError,
  InvariantError,
  MachineSourceError,
  MigrationError,
  OutboxSendError,
  SecretError,
  STATE_MANAGER_ERROR_CODES,
  StateManagerError,
  type StateManagerErrorCode,
} from "./errors.js";
export {
  createLambdaHandler,
  createTickHandler,
  handler,
  type LambdaHandler,
  type TickHandler,
  tick,
} from "./handler.js";
export { type LocalMachineSourceOptions, localMachineSource } from "./local-machine-source.js";
export { BatchingLogger, canHold, createLogger, HOLD_MS, SERVICE_NAME } from "./logger.js";
export {
  MACHINE_NAME,
  type MachineLookup,
  type MachineSource,
  machineNameOf,
  type ReloadResult,
} from "./machine-source.js";
export { defaultMigrationsDir, type MigrationOptions, runMigrations } from "./migrations.js";
export { MAX_SQS_BYTES } from "./outbox.js";
export {
  DEFAULT_PRUNE_BATCH,
  type PrunedTable,
  type PruneOptions,
  type PruneResult,
  prune,
} from "./prune.js";
export {
  getHistory,
  getStack,
  type HistoryEntry,
  type HistoryOptions,
  type ListStacksOptions,
  listStacks,
} from "./queries.js";
export {
  DEFAULT_CACHE_TTL_SECONDS,
  folderPrefix,
  type S3MachineSourceOptions,
  s3MachineSource,
} from "./s3-machine-source.js";
export type { Database } from "./schema.js";
export { checkSchema, REQUIRED_MIGRATION } from "./schema-check.js";
export { databaseUrlFromSecret, urlFromSecret } from "./secrets.js";
export {
  createStateManager,
  defaultDeps,
  type StateManager,
  type StateManagerOptions,
} from "./state-manager.js";
export { createTick, type Tick, type TickOptions, type TickResult } from "./tick.js";
export {
  countDueTimers,
  type ListTimersOptions,
  listSchedules,
  listTimers,
  type ScheduleListing,
  storedMachine,
  type TimerListing,
} from "./time-queries.js";
export {
  countUnpinnedStacks,
  type StackGroup,
  type StoredVersion,
  stackGroups,
  storedVersion,
  storedVersions,
  type VersionUsage,
  versionUsage,
} from "./version-queries.js";
