import type { Metadata, Stack, StackTask } from "@stackseam/core";
import type { ColumnType, Generated } from "kysely";

/** jsonb columns: pg parses them on read; we always write JSON text so arrays are not taken for SQL arrays. */
type Json<T> = ColumnType<T, string, string>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;

export interface StacksTable {
  id: string;
  machine: string;
  /** Null for rows created before machine versions (pinned by their next event). */
  version: ColumnType<string | null, string | null | undefined, string | null>;
  state: string;
  metadata: Json<Metadata>;
  tasks: Json<StackTask[]>;
  entry: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  entered_at: NullableTimestamp;
  active_at: NullableTimestamp;
  outputs: NullableJson<NonNullable<Stack["outputs"]>>;
  deferred: NullableJson<NonNullable<Stack["deferred"]>>;
  ttl: NullableJson<NonNullable<Stack["ttl"]>>;
  ttl_warned_for: NullableTimestamp;
  ttl_fired_for: NullableTimestamp;
}

export interface HistoryTable {
  id: Generated<string>;
  stack_id: string;
  machine: string | null;
  event: string | null;
  event_key: string;
  outcome: "applied" | "refused" | "ignored";
  reason: string | null;
  from_state: string | null;
  to_state: string | null;
  path: string[] | null;
  task: string | null;
  token: string | null;
  duplicate: ColumnType<boolean, boolean | undefined, boolean>;
  detail: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  created_at: Timestamp;
}

export interface OutboxTable {
  id: Generated<string>;
  stack_id: string;
  task: string;
  token: string;
  body: string;
  created_at: Timestamp;
  sent_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  message_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface MachineVersionsTable {
  machine: string;
  version: string;
  source: string;
  origin: string | null;
  first_used_at: Timestamp;
}

export interface TimersTable {
  stack_id: string;
  name: string;
  due_at: Timestamp;
  claimed_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface SchedulesTable {
  machine: string;
  name: string;
  cron: string;
  timezone: string;
  event: string;
  states: string[];
  next_at: Timestamp;
  cursor: ColumnType<string | null, string | null | undefined, string | null>;
  claimed_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface NotificationsTable {
  id: Generated<string>;
  stack_id: string;
  event_key: string;
  target: string;
  kind: string;
  destination: Json<Record<string, unknown>>;
  body: Json<Record<string, unknown>>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  sent_at: NullableTimestamp;
  failed_at: NullableTimestamp;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
}

/** The database as Kysely sees it (see migrations/). */
export interface Database {
  notifications: NotificationsTable;
  timers: TimersTable;
  schedules: SchedulesTable;
  stacks: StacksTable;
  machine_versions: MachineVersionsTable;
  history: HistoryTable;
  outbox: OutboxTable;
}
