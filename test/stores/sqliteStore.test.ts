import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  sqliteMigrations,
  sqliteStore,
  StoreCorruptError,
  StoreError,
  StoreOpenError,
  StoreSchemaError,
  StoreSerializationError,
  type SqliteStore,
  type SqliteStoreOptions,
} from '../../src/stores/index.ts';
import { defineStoreContract, makeInstance, makeRun, type RawRowWriter } from './storeContract.ts';

/** The schema version this code writes. */
const latest = sqliteMigrations.at(-1)!.version;
const root = mkdtempSync(join(tmpdir(), 'taskmachine-sqlite-'));
let counter = 0;
/** A path in a new directory of its own (created only when `create` is set). */
function newPath(name = 'store.db', create = false): string {
  const path = join(root, `t${++counter}`, name);
  if (create) mkdirSync(dirname(path), { recursive: true });
  return path;
}

const opened: SqliteStore[] = [];
function open(options: SqliteStoreOptions): SqliteStore {
  const store = sqliteStore(options);
  opened.push(store);
  return store;
}
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const hash = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Runs `fn` on the raw database file (not through the store), then closes it. */
function raw(path: string, fn: (db: DatabaseSync) => void): void {
  const db = new DatabaseSync(path);
  try {
    fn(db);
  } finally {
    db.close();
  }
}

/** A closed store file holding run r1 with instance a, a result and a checkpoint. */
async function storeFile(path = newPath()): Promise<string> {
  const store = sqliteStore({ path });
  await store.commit({
    runId: 'r1',
    run: makeRun('r1'),
    instances: [{ record: makeInstance('a', { state: 'success', error: new Error('first try failed') }) }],
    transitions: [{ key: 'a', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1 }],
    results: [{ key: 'a', attempt: 1, value: { rows: 3 }, at: 2 }],
  });
  await store.saveCheckpoint({ runId: 'r1', key: 'a', value: 'cp', savedAt: 3 });
  await store.close();
  return path;
}

/** Changes a row of a SQLite store's file through a connection of its own (the store is not asked). */
const rawSqliteRows: RawRowWriter = async (store, row, column, value) => {
  raw((store as SqliteStore).path, (db) => {
    // A run's shape is in a table of its own here (schema 5).
    const table = row.table === 'runs' && column === 'shape' ? 'run_shapes' : row.table;
    const where = table === 'task_instances' || table === 'results' ? 'run_id = ? AND key = ?' : 'run_id = ?';
    const params = table === 'task_instances' || table === 'results' ? [row.runId, row.key!] : [row.runId];
    const { changes } = db.prepare(`UPDATE ${table} SET ${column} = ? WHERE ${where}`).run(value, ...params);
    if (Number(changes) !== 1) throw new Error(`no ${row.table} row ${JSON.stringify(row)}`);
  });
};

defineStoreContract('sqliteStore (file, durability full)', () => sqliteStore({ path: newPath() }), rawSqliteRows, 'run_shapes');
defineStoreContract('sqliteStore (:memory:)', () => sqliteStore({ path: ':memory:' }));

describe('sqliteStore: file and settings', () => {
  it('creates the parent directories of the path', () => {
    const path = join(root, 'deep', 'er', '.taskmachine', 'taskmachine.db');
    const store = open({ path });
    expect(store.path).toBe(path);
    expect(existsSync(path)).toBe(true);
  });

  it('resolves a relative path against the working directory', () => {
    const store = open({ path: ':memory:' });
    expect(store.path).toBe(':memory:');
    const rel = open({ path: relative(process.cwd(), join(root, 'rel', 'x.db')) });
    expect(rel.path).toBe(join(root, 'rel', 'x.db'));
  });

  it("runs in WAL mode with synchronous=FULL by default and NORMAL for durability 'normal'", () => {
    const full = open({ path: newPath() });
    expect(full.durability).toBe('full');
    expect(full.settings()).toEqual({ journalMode: 'wal', synchronous: 'full', busyTimeoutMs: 5000, schemaVersion: latest });
    const normal = open({ path: newPath(), durability: 'normal', busyTimeoutMs: 250 });
    expect(normal.settings()).toEqual({ journalMode: 'wal', synchronous: 'normal', busyTimeoutMs: 250, schemaVersion: latest });
    // WAL is a property of the file: another connection sees it too
    raw(normal.path, (db) => expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' }));
  });

  it('rejects bad options with a clear error', () => {
    expect(() => sqliteStore({ path: ':memory:', durability: 'fast' as never })).toThrow(/durability must be 'full' or 'normal', got "fast"/);
    expect(() => sqliteStore({ path: ':memory:', busyTimeoutMs: -1 })).toThrow(StoreError);
    // A misspelt option is refused, not ignored (a store at the default path, 'full' kept), and
    // nothing is created meanwhile.
    const cwd = process.cwd();
    process.chdir(root);
    try {
      expect(() => sqliteStore({ file: 'x.db' } as never)).toThrow("sqliteStore: unknown option 'file' (the options are path, durability, busyTimeoutMs).");
      const settings: Record<string, unknown> = { path: ':memory:', durabilty: 'normal' };
      expect(() => sqliteStore(settings)).toThrow("unknown option 'durabilty'");
      expect(existsSync(join(root, '.taskmachine'))).toBe(false);
    } finally {
      process.chdir(cwd);
    }
    expect(() => sqliteStore({ path: '' })).toThrow("sqliteStore: path must be a file path (or ':memory:'), got \"\".");
    expect(() => sqliteStore({ path: 5 as never })).toThrow('path must be a file path');
    expect(() => sqliteStore(null as never)).toThrow('sqliteStore: options must be an object');
  });

  it('records applied migrations in schema_version and mirrors the version in user_version', async () => {
    const path = await storeFile();
    raw(path, (db) => {
      expect(db.prepare('SELECT version, description FROM schema_version ORDER BY version').all()).toEqual(
        sqliteMigrations.map((m) => ({ version: m.version, description: m.description })),
      );
      expect(db.prepare('PRAGMA user_version').get()).toEqual({ user_version: sqliteMigrations.at(-1)!.version });
    });
  });

  it('migrates a schema-1 file to the current schema in place: its runs keep their data, instances get 0 interruptions', async () => {
    const path = newPath();
    mkdirSync(dirname(path), { recursive: true });
    // A store as taskmachine wrote it before schema 2: migration 1 only.
    raw(path, (db) => {
      db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, description TEXT NOT NULL)');
      db.exec(sqliteMigrations[0]!.sql);
      db.prepare('INSERT INTO schema_version VALUES (1, 0, ?)').run(sqliteMigrations[0]!.description);
      db.exec('PRAGMA user_version = 1');
      db.prepare(
        `INSERT INTO runs VALUES ('old', 'etl', 'fp', 'running', NULL, NULL, NULL, '1', 1, 1, 1, NULL)`,
      ).run();
      db.prepare(
        `INSERT INTO task_instances (run_id, key, task_id, state, attempt, max_attempts, retries, defer_timed_out, version, machine_version, created_at, updated_at, parked, waiting_for_event)
         VALUES ('old', 'a', 'a', 'running', 1, 1, 0, 0, 3, '2', 1, 1, 0, 0)`,
      ).run();
    });
    const store = open({ path });
    expect(store.settings().schemaVersion).toBe(sqliteMigrations.at(-1)!.version);
    expect((await store.loadRun('old'))!.instances[0]).toMatchObject({ key: 'a', state: 'running', version: 3, interruptions: 0, maxInterruptions: 3 });
    expect(await store.getLease('old')).toBeUndefined();
    // Schema 4: a run stored before has no shape and no flow hash; its task log starts empty and works.
    expect(await store.getRunShape('old')).toBeUndefined();
    expect((await store.getRun('old'))?.flowHash).toBeUndefined();
    await store.commit({ runId: 'old', logs: [{ key: 'a', taskId: 'a', attempt: 1, at: 2, line: 'after the upgrade' }] });
    expect((await store.readTaskLogs('old')).map((l) => [l.seq, l.line])).toEqual([[1, 'after the upgrade']]);
  });

  it('migrates a schema-4 file: each run shape moves out of the runs row into run_shapes, unchanged', async () => {
    const path = newPath();
    mkdirSync(dirname(path), { recursive: true });
    const shape = { flowId: 'etl', tasks: [{ id: 'a', kind: 'task', upstream: [] }], version: 1 };
    raw(path, (db) => {
      db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, description TEXT NOT NULL)');
      for (const migration of sqliteMigrations.filter((m) => m.version <= 4)) {
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_version VALUES (?, 0, ?)').run(migration.version, migration.description);
      }
      db.exec('PRAGMA user_version = 4');
      db.prepare(`INSERT INTO runs (run_id, flow_id, input_fingerprint, state, machine_version, created_at, updated_at, shape) VALUES ('old', 'etl', 'fp', 'success', '1', 1, 1, ?)`).run(JSON.stringify(shape));
      db.prepare(`INSERT INTO runs (run_id, flow_id, input_fingerprint, state, machine_version, created_at, updated_at) VALUES ('bare', 'etl', 'fp', 'success', '1', 2, 2)`).run();
    });
    const store = open({ path });
    expect(store.settings().schemaVersion).toBe(5);
    expect(await store.getRunShape('old')).toEqual(shape);
    expect(await store.getRunShape('bare')).toBeUndefined();
    expect(await store.getRun('old')).toMatchObject({ runId: 'old', state: 'success' });
    await store.close();
    raw(path, (db) => {
      // The column stays (a process of the previous version may still have the file open), emptied.
      expect(db.prepare('SELECT run_id, shape FROM runs ORDER BY run_id').all()).toEqual([{ run_id: 'bare', shape: null }, { run_id: 'old', shape: null }]);
      expect(db.prepare('SELECT run_id FROM run_shapes').all()).toEqual([{ run_id: 'old' }]);
    });
  });

  // Why it moved: the runs row is written again with every update of the run (start, end), and a
  // shape in it (44 bytes a task) made every such write as large as the whole task graph.
  it("keeps a run's shape out of the runs row, so updating the run does not write the shape again", async () => {
    const path = newPath();
    const store = open({ path });
    const shape = { flowId: 'etl', tasks: Array.from({ length: 2_000 }, (_, i) => ({ id: `t${i}`, kind: 'task' as const, upstream: [] })), version: 1 as const };
    await store.commit({ runId: 'r', run: makeRun('r'), shape });
    await store.commit({ runId: 'r', run: { ...makeRun('r'), state: 'success', endedAt: 9 } });
    expect(await store.getRunShape('r')).toEqual(shape);
    await store.close();
    raw(path, (db) => {
      const columns = (db.prepare('PRAGMA table_info(runs)').all() as Array<{ name: string }>).map((c) => c.name);
      const runRow = db.prepare(`SELECT ${columns.map((c) => `coalesce(length(CAST(${c} AS BLOB)), 0)`).join(' + ')} AS bytes FROM runs WHERE run_id = 'r'`).get() as { bytes: number };
      const shapeRow = db.prepare("SELECT length(shape) AS bytes FROM run_shapes WHERE run_id = 'r'").get() as { bytes: number };
      expect(shapeRow.bytes).toBeGreaterThan(50_000);
      expect(runRow.bytes).toBeLessThan(1_000);
    });
  });

  it('reopens a file and reads back everything that was committed', async () => {
    const path = await storeFile();
    const store = open({ path });
    const loaded = await store.loadRun('r1');
    expect(loaded?.run).toEqual(makeRun('r1'));
    expect(loaded?.instances).toHaveLength(1);
    expect(loaded?.instances[0]).toMatchObject({ key: 'a', state: 'success', version: 1 });
    expect(loaded?.instances[0]?.error).toMatchObject({ message: 'first try failed' });
    expect(loaded?.results).toEqual([{ runId: 'r1', key: 'a', attempt: 1, value: { rows: 3 }, at: 2 }]);
    expect(await store.readTransitionLog('r1')).toHaveLength(1);
    expect((await store.loadCheckpoint('r1', 'a'))?.value).toBe('cp');
    // and keeps numbering where it left off
    expect((await store.commit({ runId: 'r1', transitions: [{ key: 'a', from: 'success', to: 'none', event: 'CLEAR', at: 4 }] })).lastSeq).toBe(2);
  });

  it('keeps labels, call input and custom context in schema v1 columns (NULL when undefined) across reopening', async () => {
    const path = newPath();
    const store = sqliteStore({ path });
    const labels = { flowFile: 'flows/etl.ts', flowExport: 'etl' };
    await store.commit({
      runId: 'r1',
      run: makeRun('r1', { labels }),
      instances: [
        { record: makeInstance('a') },
        { record: makeInstance('a/c#1', { parentKey: 'a', callInput: { day: new Date(0) }, customContext: { tenant: 'acme' } }) },
      ],
    });
    await store.commit({ runId: 'r2', run: makeRun('r2') });
    await store.close();
    raw(path, (db) => {
      const columns = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
      expect(columns('runs')).toContain('labels');
      expect(columns('task_instances')).toEqual(expect.arrayContaining(['call_input', 'custom_context']));
      expect(db.prepare('SELECT schema_version.version FROM schema_version').all()).toEqual(sqliteMigrations.map((m) => ({ version: m.version })));
      // labels are superjson text like every value column, and queryable with json_extract
      expect(db.prepare(`SELECT run_id, labels, json_extract(labels, '$.json.flowFile') AS file FROM runs ORDER BY run_id`).all()).toEqual([
        { run_id: 'r1', labels: JSON.stringify({ json: labels }), file: 'flows/etl.ts' },
        { run_id: 'r2', labels: null, file: null },
      ]);
      expect(db.prepare('SELECT key, call_input IS NULL AS no_input, custom_context FROM task_instances ORDER BY key').all()).toEqual([
        { key: 'a', no_input: 1, custom_context: null },
        { key: 'a/c#1', no_input: 0, custom_context: '{"json":{"tenant":"acme"}}' },
      ]);
    });
    const reopened = open({ path });
    const loaded = (await reopened.loadRun('r1'))!;
    expect(loaded.run.labels).toStrictEqual(labels);
    expect(loaded.instances.map((i) => [i.key, i.callInput, i.customContext])).toStrictEqual([
      ['a', undefined, undefined],
      ['a/c#1', { day: new Date(0) }, { tenant: 'acme' }],
    ]);
    expect((await reopened.listRuns()).map((r) => [r.runId, r.labels])).toStrictEqual([
      ['r2', undefined],
      ['r1', labels],
    ]);
  });

  it('opens an empty (0-byte) file as a new store', () => {
    const path = newPath('empty.db', true);
    writeFileSync(path, '');
    const store = open({ path });
    expect(store.settings().schemaVersion).toBe(latest);
  });
});

describe('sqliteStore: several handles on one file', () => {
  it('a second handle sees what the first committed, and compare-and-set works across them', async () => {
    const path = newPath();
    const first = open({ path });
    const second = open({ path });
    await first.commit({ runId: 'r1', run: makeRun('r1'), instances: [{ record: makeInstance('a') }] });
    expect((await second.loadRun('r1'))?.instances.map((i) => i.version)).toEqual([1]);

    await first.commit({ runId: 'r1', instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }] });
    await expect(
      second.commit({ runId: 'r1', instances: [{ record: makeInstance('a', { state: 'skipped' }), expectedVersion: 1 }] }),
    ).rejects.toMatchObject({ name: 'StoreConflictError', expectedVersion: 1, actualVersion: 2 });
    expect((await first.loadRun('r1'))?.instances[0]).toMatchObject({ state: 'queued', version: 2 });
    await second.saveCheckpoint({ runId: 'r1', key: 'a', value: 7, savedAt: 1 });
    expect((await first.loadCheckpoint('r1', 'a'))?.value).toBe(7);
  });
});

describe('sqliteStore: a file locked by another connection', () => {
  it('fails after busyTimeoutMs with a clear StoreError and writes nothing', async () => {
    const path = newPath();
    const store = open({ path, busyTimeoutMs: 0 });
    await store.commit({ runId: 'r1', run: makeRun('r1') });
    const other = new DatabaseSync(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const error = await store.commit({ runId: 'r1', instances: [{ record: makeInstance('a') }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect((error as Error).message).toMatch(/stayed locked by another connection for longer than busyTimeoutMs \(0 ms\).*retry, or raise busyTimeoutMs/);
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    expect((await store.loadRun('r1'))?.instances).toEqual([]);
    await store.commit({ runId: 'r1', instances: [{ record: makeInstance('a') }] });
    expect((await store.loadRun('r1'))?.instances).toHaveLength(1);
  });
});

describe('sqliteStore: kill -9 during commits', () => {
  it('after SIGKILL, every committed batch is there in full and no batch is there in part', async () => {
    const path = newPath();
    const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/commitLoop.ts', import.meta.url)), path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Kill it once it reports five committed rounds (it keeps committing meanwhile).
    const reported = await new Promise<number>((resolve, reject) => {
      let last = 0;
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) last = Number(line);
        if (last >= 5 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL');
          resolve(last);
        }
      });
      child.on('exit', () => reject(new Error(`the child exited before being killed: ${stderr}`)));
    });
    expect(await exited).toBe('SIGKILL');

    const store = open({ path });
    const loaded = (await store.loadRun('crash'))!;
    const versions = new Set(loaded.instances.map((i) => i.version));
    expect(loaded.instances).toHaveLength(200);
    expect(versions.size).toBe(1); // one batch moved every instance: never some without the others
    const [rounds] = [...versions] as [number];
    expect(rounds).toBeGreaterThanOrEqual(reported); // what was reported committed is durable
    expect(loaded.instances.every((i) => i.attempt === rounds)).toBe(true);
    expect(await store.readTransitionLog('crash')).toHaveLength(200 * rounds);
    expect(loaded.results).toHaveLength(200 * rounds);
  });
});

describe('sqliteStore: paths it cannot open', () => {
  /** The StoreOpenError opening `path` throws. */
  function openFails(path: string): StoreOpenError {
    let thrown: unknown;
    try {
      sqliteStore({ path });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(StoreOpenError);
    expect(thrown).toBeInstanceOf(StoreError);
    expect((thrown as StoreOpenError).path).toBe(path);
    expect((thrown as Error).message).toMatch(/Nothing was written\.$/);
    return thrown as StoreOpenError;
  }

  it('a path under a regular file: StoreOpenError naming the file, the directory and the fix', () => {
    const file = newPath('plain.txt', true);
    writeFileSync(file, 'not a directory');
    const error = openFails(join(file, 'store.db'));
    expect(error.message).toContain(`Cannot open the store file "${join(file, 'store.db')}": its directory "${file}" cannot be created`);
    expect(error.message).toContain(`a part of the path "${file}" is not a directory`);
    expect(error.message).toContain('Point the store at a path this user can write (--store <file> on the command line).');
    expect(readFileSync(file, 'utf8')).toBe('not a directory');
  });

  // /proc accepts no new files, whoever asks (a read-only directory would not stop root, and tests may run as root).
  it.runIf(existsSync('/proc/self'))('a directory SQLite cannot create the file in: StoreOpenError instead of "unable to open database file"', () => {
    const error = openFails('/proc/taskmachine-store.db');
    expect(error.message).toContain('Cannot open the store file "/proc/taskmachine-store.db": SQLite cannot create or write it (unable to open database file).');
    expect(error.message).toContain('Point the store at a path this user can write (--store <file> on the command line), or fix the permissions of "/proc"');
  });
});

describe('sqliteStore: refusing files it cannot use, leaving them untouched', () => {
  function expectUntouched(path: string, error: new (...args: never[]) => Error, message: RegExp): Error {
    const before = hash(path);
    const filesBefore = readdirSync(join(path, '..')).sort();
    let thrown: unknown;
    try {
      sqliteStore({ path });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect(thrown).toBeInstanceOf(StoreError);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).toMatch(/The file was not changed\.$/);
    expect(hash(path)).toBe(before);
    expect(readdirSync(join(path, '..')).sort()).toEqual(filesBefore); // no -wal/-shm left behind either
    return thrown as Error;
  }

  it('a file of garbage bytes: StoreCorruptError "not a SQLite database"', () => {
    const path = newPath('garbage.db', true);
    writeFileSync(path, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    const error = expectUntouched(path, StoreCorruptError, /is not a SQLite database \(it does not start with the SQLite header\)/);
    expect(error).toMatchObject({ path });
  });

  it('a short text file: StoreCorruptError', () => {
    const path = newPath('notes.db', true);
    writeFileSync(path, 'hello');
    expectUntouched(path, StoreCorruptError, /not a SQLite database/);
  });

  it('a SQLite file whose first page is damaged: StoreCorruptError "damaged"', async () => {
    const path = await storeFile();
    const bytes = readFileSync(path);
    bytes.fill(0xff, 100, 4096);
    writeFileSync(path, bytes);
    expectUntouched(path, StoreCorruptError, /is damaged \(SQLite: .*malformed.*\)\. Restore it from a backup, or move it away/);
  });

  it('a store whose schema_version row says 99: StoreSchemaError naming both versions', async () => {
    const path = await storeFile();
    raw(path, (db) => db.exec(`INSERT INTO schema_version (version, applied_at, description) VALUES (99, 0, 'from the future')`));
    const error = expectUntouched(path, StoreSchemaError, new RegExp(`has schema version 99, but this taskmachine knows versions up to ${latest}: .*Upgrade taskmachine`));
    expect(error).toMatchObject({ foundVersion: 99, supportedVersion: latest });
  });

  it('a store whose header user_version says 99: StoreSchemaError', async () => {
    const path = await storeFile();
    raw(path, (db) => db.exec('PRAGMA user_version = 99'));
    expectUntouched(path, StoreSchemaError, /has schema version 99/);
  });

  it("another program's SQLite database: StoreSchemaError 'not a taskmachine store'", () => {
    const path = newPath('app.db', true);
    raw(path, (db) => db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES (1)'));
    expectUntouched(path, StoreSchemaError, /is a SQLite database but not a taskmachine store \(it has the tables users/);
  });

  it('a store with a table dropped by hand: StoreSchemaError naming the missing table', async () => {
    const path = await storeFile();
    raw(path, (db) => db.exec('DROP TABLE checkpoints'));
    expectUntouched(path, StoreSchemaError, /the tables checkpoints are missing/);
  });
});

describe('sqliteStore: tampered payloads', () => {
  it('refuses a stored payload crafted with __proto__ and leaves Object.prototype clean', async () => {
    const path = await storeFile();
    raw(path, (db) => {
      db.prepare('UPDATE results SET value = ?').run('{"json":{"rows":3,"__proto__":{"polluted":true}}}');
      db.prepare('UPDATE checkpoints SET value = ?').run('{"json":{"x":1},"meta":{"values":{"__proto__.polluted":["undefined"]},"v":1}}');
    });
    const store = open({ path });
    const error = await store.loadRun('r1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreSerializationError);
    expect((error as Error).message).toMatch(/key '__proto__' at \$\.__proto__, which could pollute Object\.prototype/);
    await expect(store.loadCheckpoint('r1', 'a')).rejects.toThrow(/key '__proto__' at \$\(meta\)/);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // the rest of the store still works
    expect((await store.getRun('r1'))?.runId).toBe('r1');
  });

  it('refuses tampered labels, call input and custom context payloads', async () => {
    const path = await storeFile();
    const crafted = '{"json":{"flowFile":"x","__proto__":{"polluted":true}}}';
    raw(path, (db) => {
      db.prepare('UPDATE runs SET labels = ?').run(crafted);
      db.prepare('UPDATE task_instances SET call_input = ?, custom_context = ?').run(crafted, crafted);
    });
    const store = open({ path });
    await expect(store.getRun('r1')).rejects.toBeInstanceOf(StoreSerializationError);
    await expect(store.listRuns()).rejects.toThrow(/key '__proto__'/);
    raw(path, (db) => db.prepare('UPDATE runs SET labels = NULL').run());
    await expect(store.loadRun('r1')).rejects.toThrow(/key '__proto__'/);
    raw(path, (db) => db.prepare('UPDATE task_instances SET call_input = NULL').run());
    await expect(store.loadRun('r1')).rejects.toThrow(/key '__proto__'/);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});
