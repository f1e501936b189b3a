// Opening the SQLite store's database — its directory created, an existing file checked read-only
// first (inspectFile.ts), then the pragmas and pending migrations — and what SQLite's errors mean
// to the store's callers: each names the file and the fix instead of SQLite's bare result code.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type * as sqlite from 'node:sqlite';
import { StoreError, StoreSerializationError } from '../errors.ts';
import { accessError, corruptError, inspectStoreFile, isCorruptionError, loadSqlite, primaryCode } from './inspectFile.ts';
import { migrate } from './migrations.ts';

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_TOOBIG = 18;

/** The store's connection to `path` (absolute, or `':memory:'`), migrated to this code's schema. */
export function openDatabase(path: string, inMemory: boolean, durability: 'full' | 'normal', busyTimeoutMs: number): sqlite.DatabaseSync {
  if (!inMemory) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw accessError(path, error, true);
    }
    try {
      inspectStoreFile(path);
    } catch (error) {
      throw accessError(path, error);
    }
  }

  let db: sqlite.DatabaseSync;
  try {
    db = new (loadSqlite().DatabaseSync)(path, { enableForeignKeyConstraints: false });
  } catch (error) {
    if (isCorruptionError(error)) throw corruptError(path, error, true);
    throw accessError(path, error);
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    // (The first write: in a read-only directory or file this is where SQLite refuses.)
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    migrate(db, path);
  } catch (error) {
    db.close();
    if (isCorruptionError(error)) throw corruptError(path, error, false);
    throw accessError(path, error);
  }
  return db;
}

/**
 * `error`, thrown by SQLite while the store is open, as the store reports it: damage, a file it
 * may not write, a lock held past `busyTimeoutMs`, a full disk, an I/O error or a value too large
 * (anything else as it is).
 */
export function storeError(error: unknown, path: string, busyTimeoutMs: number): unknown {
  if (isCorruptionError(error)) return corruptError(path, error, false);
  const errcode = primaryCode(error);
  if (errcode === SQLITE_READONLY || errcode === SQLITE_CANTOPEN) return accessError(path, error);
  if (error instanceof Error && (errcode === SQLITE_BUSY || errcode === SQLITE_LOCKED)) {
    return new StoreError(
      `The store file "${path}" stayed locked by another connection for longer than busyTimeoutMs ` +
        `(${busyTimeoutMs} ms), so nothing was written. Another process is holding a long write transaction; ` +
        'retry, or raise busyTimeoutMs.',
      { cause: error },
    );
  }
  // (Store errors all: the CLI's exit code for a store that cannot be used is 2, and a run it
  // stopped is continued with `resume` once the cause is gone.)
  if (error instanceof Error && errcode === SQLITE_FULL) {
    return new StoreError(`The disk holding the store file "${path}" is full, so nothing was written. Free space on it, then resume the run.`, { cause: error });
  }
  if (error instanceof Error && errcode === SQLITE_IOERR) {
    return new StoreError(`Reading or writing the store file "${path}" failed (SQLite: ${error.message}), so nothing was written. Check the disk, then resume the run.`, { cause: error });
  }
  if (error instanceof Error && errcode === SQLITE_TOOBIG) {
    // (The value's fault, not the store's: a resume would meet it again.)
    const problem = `it is too large for the store file "${path}" (SQLite: ${error.message})`;
    return new StoreSerializationError({ path: '$', problem, message: `A value ${problem.slice(3)}, so nothing was written.`, cause: error });
  }
  return error;
}
