// Read-only checks of an existing store file, run before the store opens it for writing, so a file
// written by a newer taskmachine, another program's database or a damaged file is refused with a
// clear error and left byte-for-byte as it was. After an unclean stop the whole file is checked
// (PRAGMA quick_check) first: damage must be found before anything is written on top of it.
import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as sqlite from 'node:sqlite';
import { StoreCorruptError, StoreError, StoreOpenError, StoreSchemaError } from '../errors.ts';
import { processExists } from '../../processExists.ts';
import { shellWord } from '../../shellWord.ts';
import { latestSchemaVersion, requiredTables } from './migrations.ts';

const SQLITE_HEADER = 'SQLite format 3\u0000';
const SQLITE_READONLY = 8;
const SQLITE_CANTOPEN = 14;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

const unchanged = 'The file was not changed.';

/** The node:sqlite module, loaded on first use (so importing the stores costs nothing without SQLite). */
export function loadSqlite(): typeof sqlite {
  return process.getBuiltinModule('node:sqlite');
}

/** True for a node:sqlite error that says the database is damaged or not a database. */
export function isCorruptionError(error: unknown): error is Error {
  const code = primaryCode(error);
  return error instanceof Error && (code === SQLITE_CORRUPT || code === SQLITE_NOTADB);
}

/**
 * The primary SQLite result code of a node:sqlite error (its `errcode` is the extended code, e.g.
 * 1544 SQLITE_READONLY_DIRECTORY, whose low byte is 8 SQLITE_READONLY), or `undefined`.
 */
export function primaryCode(error: unknown): number | undefined {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' ? errcode & 0xff : undefined;
}

/** What to do about a damaged store file (the last sentences of every such error). */
function damageFix(path: string): string {
  return (
    'Restore it from a backup, or move it away to start with an empty store (the runs in it are then lost). ' +
    `'taskmachine check --store ${shellWord(path)}' prints a full report.`
  );
}

/** The error for a damaged database file. */
export function corruptError(path: string, error: Error, onOpen: boolean): StoreCorruptError {
  return new StoreCorruptError({
    path,
    cause: error,
    message: `The store file "${path}" is damaged (SQLite: ${error.message}). ${damageFix(path)}` + (onOpen ? ` ${unchanged}` : ''),
  });
}

/**
 * The error for a store path the process cannot read or write (permissions, a read-only file
 * system, a parent that is a file, a directory that accepts no files): a `StoreOpenError` naming
 * the path, the reason and the fix — SQLite's own "unable to open database file" names neither.
 * Anything else thrown is returned as it is.
 */
export function accessError(path: string, error: unknown, creatingDirectory = false): Error {
  if (error instanceof StoreError) return error;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const errcode = primaryCode(error);
  const fileSystem = typeof code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
  if (!fileSystem && errcode !== SQLITE_CANTOPEN && errcode !== SQLITE_READONLY) return error instanceof Error ? error : new StoreError(String(error));
  const reason = error instanceof Error ? error.message : String(error);
  const dir = dirname(path);
  const fix = 'Point the store at a path this user can write (--store <file> on the command line)';
  let message: string;
  if (creatingDirectory || code === 'ENOTDIR' || code === 'EEXIST') {
    message = `its directory "${dir}" cannot be created: a part of the path "${dir}" is not a directory (${reason}). ${fix}.`;
  } else if (code === 'EROFS' || !writable(dir)) {
    message = `its directory "${dir}" is not writable by this user; SQLite creates the store's -wal and -shm files there (${reason}). ${fix}, or give this user write access to the directory.`;
  } else if (existsSync(path) && !writable(path)) {
    message = `the file is not writable by this user (${reason}). ${fix}, or give this user write access to the file.`;
  } else {
    message = `SQLite cannot create or write it (${reason}). ${fix}, or fix the permissions of "${dir}" and the file.`;
  }
  return new StoreOpenError({ path, cause: error, message: `Cannot open the store file "${path}": ${message} Nothing was written.` });
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * What `PRAGMA quick_check` or `PRAGMA integrity_check` finds, one problem per line (empty: the
 * file is sound). Damage bad enough that SQLite stops the check with an error is a problem too.
 */
export function integrityProblems(db: sqlite.DatabaseSync, pragma: 'quick_check' | 'integrity_check'): string[] {
  let rows: Array<Record<string, string>>;
  try {
    rows = db.prepare(`PRAGMA ${pragma}`).all() as Array<Record<string, string>>;
  } catch (error) {
    if (isCorruptionError(error)) return [error.message];
    throw error;
  }
  const lines = rows.flatMap((row) => String(Object.values(row)[0]).split('\n')).filter((line) => line !== '*** in database main ***' && line !== '');
  return lines.length === 1 && lines[0] === 'ok' ? [] : lines;
}

/**
 * How many times `PRAGMA quick_check` ran when a store was opened, in this process (tests use it
 * to see that a cleanly stopped store is opened without paying for one).
 */
export const openChecks = { quickChecks: 0 };

/** A lease never released whose holder is gone: the sign of an unclean stop. */
export interface UncleanStop {
  readonly runId: string;
  readonly host: string;
  readonly pid: number;
  readonly heartbeatAt: number;
}

/**
 * The run whose lease shows the file's last writer stopped uncleanly, or `undefined` after clean
 * stops. A lease that is not released belongs to a process that is driving the run or that
 * stopped without letting go (killed, crashed, lost power). It counts as an unclean stop when its
 * holder is not known to be alive: the lease has expired (no heartbeat within its time to live),
 * or it is held by a process of this host that no longer exists. A live holder (not expired,
 * another host or a running process) is not a stop: its store is in use, not abandoned.
 */
export function uncleanStop(db: sqlite.DatabaseSync, now = Date.now()): UncleanStop | undefined {
  const here = hostname();
  const held = db
    .prepare('SELECT run_id, host, pid, heartbeat_at, expires_at FROM leases WHERE released_at IS NULL AND (expires_at <= ? OR host = ?) ORDER BY heartbeat_at')
    .all(now, here) as Array<{ run_id: string; host: string; pid: number; heartbeat_at: number; expires_at: number }>;
  for (const lease of held) {
    const gone = lease.expires_at <= now || (lease.pid !== process.pid && !processExists(lease.pid));
    if (gone) return { runId: lease.run_id, host: lease.host, pid: lease.pid, heartbeatAt: lease.heartbeat_at };
  }
  return undefined;
}

/** Runs `PRAGMA quick_check` on the read-only connection; a damaged file is refused (StoreCorruptError). */
function quickCheck(db: sqlite.DatabaseSync, path: string, stop: UncleanStop): void {
  openChecks.quickChecks += 1;
  const problems = integrityProblems(db, 'quick_check');
  if (problems.length === 0) return;
  const shown = problems.slice(0, 3).map((line) => `"${line}"`).join('; ');
  throw new StoreCorruptError({
    path,
    message:
      `The store file "${path}" is damaged: PRAGMA quick_check found ${problems.length} problem${problems.length === 1 ? '' : 's'} ` +
      `(${shown}${problems.length > 3 ? '; …' : ''}). It was checked because its last writer stopped uncleanly: the lease of ` +
      `run '${stop.runId}' (pid ${stop.pid} on ${stop.host}, last seen ${new Date(stop.heartbeatAt).toISOString()}) was never ` +
      `released. Nothing was written to it. ${damageFix(path)} ${unchanged}`,
  });
}

function schemaError(path: string, foundVersion: number | undefined, message: string): StoreSchemaError {
  return new StoreSchemaError({ path, foundVersion, supportedVersion: latestSchemaVersion, message });
}

function newerError(path: string, found: number): StoreSchemaError {
  return schemaError(
    path,
    found,
    `The store file "${path}" has schema version ${found}, but this taskmachine knows versions up to ` +
      `${latestSchemaVersion}: it was written by a newer taskmachine. Upgrade taskmachine, or use another store ` +
      `path. ${unchanged}`,
  );
}

function readHeader(path: string): Buffer {
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  try {
    const read = readSync(fd, header, 0, 100, 0);
    return header.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens an existing store file read-only, without writing to it: `undefined` when there is no
 * file or an empty one. Refuses (StoreError / StoreCorruptError) a path that is not a file, a file
 * it cannot read, and a file that is not a SQLite database.
 */
export function openReadOnly(path: string): sqlite.DatabaseSync | undefined {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) {
      throw new StoreError(`The store path "${path}" is not a file. Point the store at a file path (e.g. .taskmachine/taskmachine.db).`);
    }
    size = stat.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw accessError(path, error);
  }
  if (size === 0) return undefined;

  let header: Buffer;
  try {
    header = readHeader(path);
  } catch (error) {
    throw accessError(path, error);
  }
  if (header.length < 100 || header.toString('latin1', 0, 16) !== SQLITE_HEADER) {
    throw new StoreCorruptError({
      path,
      message:
        `The store file "${path}" is not a SQLite database (it does not start with the SQLite header). ` +
        `Point the store at another path, or move this file away if it is a damaged store. ${unchanged}`,
    });
  }
  // The header's user_version mirrors the schema version (it may lag behind the WAL: checked again below).
  const headerVersion = header.readInt32BE(60);
  if (headerVersion > latestSchemaVersion) throw newerError(path, headerVersion);

  try {
    // With no WAL file the main file holds everything: open it as immutable, which creates no
    // -wal/-shm files either. With one (another process is using the store, or one crashed), read
    // through the WAL, read-only: SQLite never writes the database or the WAL then, only its
    // shared-memory index (-shm), which it rebuilds from the WAL and which holds no data.
    const walExists = existsSync(`${path}-wal`);
    const location = walExists ? path : Object.assign(pathToFileURL(path), { search: '?immutable=1' });
    return new (loadSqlite().DatabaseSync)(location, { readOnly: true });
  } catch (error) {
    if (isCorruptionError(error)) throw corruptError(path, error, true);
    throw accessError(path, error);
  }
}

/**
 * The schema version of an open store file (0: an empty database the store will set up). Throws
 * StoreSchemaError for a file of a newer taskmachine, another program's database, or a store with
 * tables missing.
 */
export function storeSchemaVersion(db: sqlite.DatabaseSync, path: string): number {
  const tables = new Set(
    (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>).map(
      (row) => row.name,
    ),
  );
  const userVersion = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (userVersion > latestSchemaVersion) throw newerError(path, userVersion);
  if (!tables.has('schema_version')) {
    if (tables.size === 0 && userVersion === 0) return 0; // an empty database: the store creates its tables
    throw schemaError(
      path,
      undefined,
      `The file "${path}" is a SQLite database but not a taskmachine store` +
        (tables.size > 0 ? ` (it has the tables ${[...tables].sort().join(', ')} and no schema_version table)` : '') +
        `. Point the store at another path (the default is .taskmachine/taskmachine.db). ${unchanged}`,
    );
  }
  const row = db.prepare('SELECT max(version) AS version FROM schema_version').get() as { version: number | null };
  const version = row.version ?? 0;
  if (version > latestSchemaVersion) throw newerError(path, version);
  if (version >= 1) {
    const missing = requiredTables(version).filter((name) => !tables.has(name));
    if (missing.length > 0) {
      throw schemaError(
        path,
        version,
        `The store file "${path}" says it has schema version ${version}, but the tables ${missing.join(', ')} are ` +
          `missing: it was changed by hand or by another program. Restore it from a backup or use another store path. ${unchanged}`,
      );
    }
  }
  return version;
}

/**
 * Checks the file at `path` without writing to it, before the store opens it for writing.
 * Returns quietly when there is no file, an empty one, or a taskmachine store this code can open
 * (its version may be older: migrations follow). Throws StoreCorruptError / StoreSchemaError
 * otherwise. After an unclean stop (see {@link uncleanStop}) it also runs `PRAGMA quick_check`,
 * so a file damaged then is refused before anything — a migration, a WAL checkpoint, a lease —
 * is written to it.
 */
export function inspectStoreFile(path: string): void {
  const db = openReadOnly(path);
  if (db === undefined) return;
  try {
    const version = storeSchemaVersion(db, path);
    const stop = version >= 2 ? uncleanStop(db) : undefined;
    if (stop !== undefined) quickCheck(db, path, stop);
  } catch (error) {
    if (isCorruptionError(error)) throw corruptError(path, error, true);
    throw error;
  } finally {
    db.close();
  }
}
