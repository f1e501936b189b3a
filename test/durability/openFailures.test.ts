// A run pointed at a SQLite file the store cannot use fails with a clear error, runs nothing and
// leaves the file byte-for-byte as it was (no -wal/-shm files either).
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { flow, runFlow, type Listener } from '../../src/index.ts';
import { sqliteStore, StoreCorruptError, StoreError, StoreSchemaError } from '../../src/stores/index.ts';
import { fileHash } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function attempt(path: string) {
  const task = vi.fn(() => 'ran');
  const onStarting = vi.fn();
  const listener: Listener = { onStarting };
  const definition = flow('etl', (f) => {
    f.task('extract', task);
  });
  let thrown: unknown;
  let result: Promise<unknown> | undefined;
  try {
    result = runFlow(definition, { store: sqliteStore({ path }), runId: 'nightly', listeners: [listener], ...quiet });
  } catch (error) {
    thrown = error;
  }
  return { thrown, result, task, onStarting };
}

function expectRefused(path: string, errorClass: new (...args: never[]) => Error, message: RegExp): Error {
  const before = fileHash(path);
  const files = readdirSync(dir).sort();
  const { thrown, result, task, onStarting } = attempt(path);
  expect(result).toBeUndefined();
  expect(thrown).toBeInstanceOf(errorClass);
  expect(thrown).toBeInstanceOf(StoreError);
  expect((thrown as Error).message).toMatch(message);
  expect((thrown as Error).message).toContain(path);
  expect((thrown as Error).message).toMatch(/The file was not changed\.$/);
  expect(task).not.toHaveBeenCalled();
  expect(onStarting).not.toHaveBeenCalled();
  expect(fileHash(path)).toBe(before);
  expect(readdirSync(dir).sort()).toEqual(files);
  return thrown as Error;
}

describe('runFlow on a SQLite file the store cannot use', () => {
  it('garbage bytes: StoreCorruptError, nothing runs, the file is unchanged', () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256)));
    expectRefused(path, StoreCorruptError, /is not a SQLite database/);
  });

  it('a store from a future schema (user_version 99): StoreSchemaError naming both versions, nothing runs, the file is unchanged', async () => {
    const path = join(dir, 'future.db');
    const store = sqliteStore({ path });
    const first = await runFlow(
      flow('etl', (f) => {
        f.task('extract', () => 'rows');
      }),
      { store, runId: 'nightly', ...quiet },
    );
    expect(first.state).toBe('success');
    await store.close();
    const db = new DatabaseSync(path);
    const { user_version: version } = db.prepare('PRAGMA user_version').get() as { user_version: number };
    db.exec('PRAGMA user_version = 99');
    db.close();
    expect(readdirSync(dir).filter((name) => name.startsWith('future.db'))).toEqual(['future.db']);

    const error = expectRefused(path, StoreSchemaError, /has schema version 99, but this taskmachine knows versions up to \d+.*Upgrade taskmachine/);
    expect(error).toMatchObject({ foundVersion: 99 });

    // The run stored before is still there, readable once the version is set back.
    const again = new DatabaseSync(path);
    again.exec(`PRAGMA user_version = ${version}`);
    again.close();
    const reopened = sqliteStore({ path });
    expect((await reopened.loadRun('nightly'))?.results.map((r) => r.value)).toEqual(['rows']);
    await reopened.close();
  });
});
