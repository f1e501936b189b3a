// Read-only checks of an existing store file, run before the store opens it for writing, so a file
// written by a newer taskmachine, another program's database or a damaged file is refused with a
// clear error and left byte-for-byte as it was.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as sqlite from 'node:sqlite';
import { StoreCorruptError, StoreError, StoreOpenError, StoreSchemaError } from '../errors.ts';
import { latestSchemaVersion, requiredTables } from './migrations.ts';

const SQLITE_HEADER = 'SQLite format 3\u0000';
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

const unchanged = 'The file was not changed.';

/** The node:sqlite module, loaded on first use (so importing the stores costs nothing without SQLite). */
export function loadSqlite(): typeof sqlite {
  return process.getBuiltinModule('node:sqlite');
}

/** True for a node:sqlite error that says the database is damaged or not a database. */
export function isCorruptionError(error: unknown): error is Error {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  return error instanceof Error && (errcode === SQLITE_CORRUPT || errcode === SQLITE_NOTADB);
}

const SQLITE_READONLY = 8;
const SQLITE_CANTOPEN = 14;

/**
 * True for an error that says the file cannot be reached or written (not that it is damaged): a
 * file-system error (`EACCES`, `ENOTDIR`, `EROFS`, …), or SQLite's "unable to open database file"
 * and "attempt to write a readonly database" (extended codes included).
 */
export function isAccessError(error: unknown): error is Error {
  if (!(error instanceof Error) || error instanceof StoreError) return false;
  const { errcode, code, syscall } = error as { errcode?: unknown; code?: unknown; syscall?: unknown };
  if (typeof errcode === 'number') return (errcode & 0xff) === SQLITE_CANTOPEN || (errcode & 0xff) === SQLITE_READONLY;
  return typeof code === 'string' && typeof syscall === 'string';
}

/**
 * The error for a store file that cannot be opened: the path, why, and what to do — SQLite's own
 * "unable to open database file" names neither the file nor the fix.
 */
export function openError(path: string, error: Error, creatingDirectory = false): StoreOpenError {
  const directory = dirname(path);
  const message = creatingDirectory
    ? `Cannot open the store file "${path}": its directory "${directory}" cannot be created (${error.message}). ` +
      'Point the store at a file in a directory that exists or that this process can create. Nothing was written.'
    : `Cannot open the store file "${path}" (SQLite: ${error.message}). The store creates and writes this file and ` +
      `its "-wal" and "-shm" files next to it: point the store at a file in a directory this process can write, or ` +
      `fix the permissions of "${directory}" and the file. Nothing was written.`;
  return new StoreOpenError({ path, cause: error, message });
}

/** The error for a damaged database file. */
export function corruptError(path: string, error: Error, onOpen: boolean): StoreCorruptError {
  return new StoreCorruptError({
    path,
    cause: error,
    message:
      `The store file "${path}" is damaged (SQLite: ${error.message}). Restore it from a backup, or move it ` +
      `away to start with an empty store (the runs in it are then lost).` +
      (onOpen ? ` ${unchanged}` : ''),
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
 * Checks the file at `path` without writing to it. Returns quietly when there is no file, an empty
 * one, or a taskmachine store this code can open (its version may be older: migrations follow).
 * Throws StoreCorruptError / StoreSchemaError otherwise.
 */
export function inspectStoreFile(path: string): void {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) {
      throw new StoreError(`The store path "${path}" is not a file. Point the store at a file path (e.g. .taskmachine/taskmachine.db).`);
    }
    size = stat.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (size === 0) return;

  const header = readHeader(path);
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

  let db: sqlite.DatabaseSync;
  try {
    // With no WAL file the main file holds everything: open it as immutable, which creates no
    // -wal/-shm files either. With one (another process is using the store, or one crashed), read
    // through the WAL, read-only.
    const walExists = existsSync(`${path}-wal`);
    const location = walExists ? path : Object.assign(pathToFileURL(path), { search: '?immutable=1' });
    db = new (loadSqlite().DatabaseSync)(location, { readOnly: true });
  } catch (error) {
    if (isCorruptionError(error)) throw corruptError(path, error, true);
    throw error;
  }
  try {
    const tables = new Set(
      (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>).map(
        (row) => row.name,
      ),
    );
    const userVersion = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
    if (userVersion > latestSchemaVersion) throw newerError(path, userVersion);
    if (!tables.has('schema_version')) {
      if (tables.size === 0 && userVersion === 0) return; // an empty database: the store creates its tables
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
  } catch (error) {
    if (isCorruptionError(error)) throw corruptError(path, error, true);
    throw error;
  } finally {
    db.close();
  }
}
