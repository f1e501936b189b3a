// `taskmachine/stores`: where flow runs are made durable. The Store interface, the in-memory,
// SQLite and PostgreSQL implementations, the serializer they share, and their errors.
export type { Store } from './store.ts';
export type { CommitBatch, CommitResult, TaskInstanceUpsert, TaskInstanceDelete } from './batch.ts';
export type { StoredRun } from './runRecord.ts';
export type {
  TaskInstanceWrite,
  StoredTaskInstance,
  PendingTimer,
  TimerAction,
  StoredFailureKind,
} from './taskInstanceRecord.ts';
export type { TransitionWrite, StoredTransition } from './transitionLog.ts';
export type { TaskLogWrite, StoredTaskLogLine, TaskLogQuery } from './taskLogRecord.ts';
export type { FlowShape, TaskShape } from '../flow/flowShape.ts';
export type { ResultWrite, StoredResult } from './resultRecord.ts';
export type { CheckpointWrite, StoredCheckpoint } from './checkpointRecord.ts';
export { isLeaseLive, type LeaseOwner, type StoredLease, type LeaseRequest, type LeaseGrant } from './leaseRecord.ts';
export type { ControlAction, ControlRequestWrite, StoredControlRequest, ControlStatus, ControlSettlement } from './controlRecord.ts';
export type { LoadedRun, RunSummary, ListRunsOptions, ReadTransitionLogOptions } from './queries.ts';
export {
  StoreError,
  StoreConflictError,
  StoreSchemaError,
  StoreCorruptError,
  StoreOpenError,
  StoreSerializationError,
  StoreConnectionError,
  StoreRowError,
  type StoredRowTable,
  LeaseLostError,
} from './errors.ts';
export { serializeValue, deserializeValue } from './serialization.ts';
export { inputFingerprint } from './fingerprint.ts';
export { memoryStore } from './memoryStore.ts';
export {
  sqliteStore,
  defaultSqlitePath,
  type SqliteStore,
  type SqliteStoreOptions,
  type SqliteDurability,
  type SqliteSettings,
} from './sqliteStore.ts';
export { sqliteMigrations, type SqliteMigration } from './sqlite/migrations.ts';
export { checkSqliteFile, type StoreCheckReport, type StoreRowProblem } from './sqlite/checkFile.ts';
export {
  postgresStore,
  defaultPostgresSchema,
  type PostgresStore,
  type SqlSession,
  type StoredResultRead,
  type PostgresStoreOptions,
} from './postgresStore.ts';
export { postgresMigrations, type PostgresMigration } from './postgres/migrations.ts';
export type { TaskInstanceCounts, TaskInstancePage, TaskInstanceQuery } from './instanceQueries.ts';
