// What SQLite's errors mean to the store's callers: each one that means "this store cannot be used
// now" is a StoreError naming the file and the fix (the CLI's exit 2; the run it stopped is
// continued with `resume`), never SQLite's bare result code.
import { describe, expect, it } from 'vitest';
import { StoreError, StoreOpenError, StoreSerializationError } from '../../src/stores/index.ts';
import { storeError } from '../../src/stores/sqlite/openFile.ts';

/** An error as node:sqlite throws it: its `errcode` is SQLite's extended result code. */
function sqliteFailure(errcode: number, message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_SQLITE_ERROR', errcode });
}

describe('storeError', () => {
  it.each([
    ['a full disk (SQLITE_FULL)', 13, 'database or disk is full', 'The disk holding the store file "/data/runs.db" is full, so nothing was written. Free space on it, then resume the run.'],
    ['an I/O error (SQLITE_IOERR_WRITE)', 778, 'disk I/O error', 'Reading or writing the store file "/data/runs.db" failed (SQLite: disk I/O error), so nothing was written. Check the disk, then resume the run.'],
    ['a value too large (SQLITE_TOOBIG, a StoreSerializationError: the value is at fault)', 18, 'string or blob too big', 'A value is too large for the store file "/data/runs.db" (SQLite: string or blob too big), so nothing was written.'],
    ['a lock held too long (SQLITE_BUSY)', 5, 'database is locked', 'The store file "/data/runs.db" stayed locked by another connection for longer than busyTimeoutMs (5000 ms), so nothing was written.'],
  ])('%s is a StoreError that names the file and the fix, with the SQLite error as its cause', (_what, errcode, message, expected) => {
    const cause = sqliteFailure(errcode, message);
    const error = storeError(cause, '/data/runs.db', 5000);
    expect(error).toBeInstanceOf(StoreError);
    expect(error instanceof StoreSerializationError).toBe(errcode === 18);
    expect((error as Error).message).toContain(expected);
    expect((error as Error).cause).toBe(cause);
  });

  it('passes other errors on as they are', () => {
    const other = sqliteFailure(1, 'no such table: nope');
    expect(storeError(other, '/data/runs.db', 5000)).toBe(other);
  });
});

describe('a store file deleted or replaced while it is open', () => {
  it('is noticed by the next read or write: a StoreError naming the file, and a run stops instead of writing on into the lost file', async () => {
    const { mkdtempSync, rmSync, unlinkSync, existsSync, renameSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { sqliteStore } = await import('../../src/stores/index.ts');
    const { flow, runFlow } = await import('../../src/index.ts');
    const dir = mkdtempSync(join(tmpdir(), 'taskmachine-gone-'));
    const path = join(dir, 'runs.db');
    const store = sqliteStore({ path });
    try {
      const definition = flow('gone', (f) => {
        const first = f.task('first', () => {
          // A cleanup job removes the store (and its WAL) while the run goes on.
          for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) unlinkSync(file);
          return 1;
        });
        f.task('second', () => 2, { after: [first] });
      });
      const stopped = await runFlow(definition, { store, runId: 'r', log: () => {} }).catch((error: unknown) => error);
      expect(stopped).toBeInstanceOf(StoreError);
      expect((stopped as Error).message).toContain(`The store file "${path}" was deleted while this process had it open`);
      await expect(store.listRuns()).rejects.toThrow('was deleted');
      expect(stopped).toBeInstanceOf(StoreOpenError);

      // Replaced by another file (a restore or a deploy that moves another store to its path): also refused.
      const other = join(dir, 'other.db');
      const second = sqliteStore({ path: other });
      await second.close();
      const watched = sqliteStore({ path: join(dir, 'watched.db') });
      renameSync(other, join(dir, 'watched.db'));
      await expect(watched.listRuns()).rejects.toThrow(`The store file "${join(dir, 'watched.db')}" was replaced by another file`);
      await watched.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
