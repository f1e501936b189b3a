// `taskmachine check --store <file>`: a full, read-only integrity check. Healthy files exit 0;
// damage (integrity_check) and invalid rows are listed and exit 2; a file it cannot read exits 2
// with the reason. The file is never changed — not even migrated.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { flow, runFlow } from '../../src/index.ts';
import { checkSqliteFile, sqliteMigrations, sqliteStore, type StoreCheckReport } from '../../src/stores/index.ts';
import { filesBeside, flipDataPages, storeHashes } from '../durability/fixtures/damage.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Runs `main` in-process with captured output, in `dir`. */
async function check(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['check', ...args], { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), cwd: dir });
  return { code, stdout, stderr };
}

const scoring = flow('scoring', (f) => {
  const list = f.task('list', () => Array.from({ length: 120 }, (_, i) => i));
  f.map('score', list, ({ item }) => ({ item, note: `item ${item} scored` }));
});

/** A closed store file with run r1 (121 instances, 121 results), its lease released. */
async function healthyStore(): Promise<string> {
  const path = join(dir, `${++files}`, 'runs.db');
  const store = sqliteStore({ path });
  await runFlow(scoring, { store, runId: 'r1', log: () => {} });
  await store.close();
  return path;
}

function raw(path: string, sql: string): void {
  const db = new DatabaseSync(path);
  db.exec(sql);
  db.close();
}

describe('taskmachine check', () => {
  it('a healthy store: integrity ok, every row valid, exit 0; nothing written (no -wal/-shm either)', async () => {
    const path = await healthyStore();
    const before = storeHashes(path);
    const beside = filesBeside(path);
    const { code, stdout, stderr } = await check('--store', path);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe(
      `store ${path} (SQLite, schema version ${sqliteMigrations.at(-1)!.version})\n` +
        'integrity_check: ok\n' +
        'rows: 1 run, 121 task instances, 121 result records checked: all valid\n' +
        'healthy\n',
    );
    expect(storeHashes(path)).toEqual(before);
    expect(filesBeside(path)).toEqual(beside);
  });

  it('bytes flipped in data pages after a clean stop (which opening does not check): listed, exit 2 with the fix, the file unchanged', async () => {
    const path = await healthyStore();
    const damaged = flipDataPages(path, 'task_instances');
    const before = storeHashes(path);
    const { code, stdout, stderr } = await check('--store', path);
    expect(code).toBe(2);
    expect(stdout).toMatch(/^integrity_check: \d+ problems?$/m);
    expect(stdout).toMatch(new RegExp(`^  Tree \\d+ page (${damaged.join('|')})`, 'm'));
    expect(stdout).toMatch(/\ndamaged\n$/);
    expect(stderr).toContain(`taskmachine: the store file "${path}" is damaged (integrity_check found problems). Restore it from a backup`);
    expect(stderr).toContain(`sqlite3 ${path} .recover`);
    expect(storeHashes(path)).toEqual(before);

    const report = checkSqliteFile(path);
    expect(report.ok).toBe(false);
    expect(report.integrity!.length).toBeGreaterThan(0);
  });

  it('rows that do not decode into valid records: each one named (table, run, key, column, value, problem), exit 2', async () => {
    const path = await healthyStore();
    raw(
      path,
      `UPDATE task_instances SET state = 'bogus' WHERE key = 'score[3]';
       UPDATE task_instances SET attempt = 9 WHERE key = 'score[4]';
       UPDATE task_instances SET attempt = 1.5 WHERE key = 'score[5]';
       UPDATE task_instances SET task_id = 'ghost' WHERE key = 'score[6]';
       UPDATE task_instances SET error = '{"json":{"__proto__":{"polluted":true}}}' WHERE key = 'score[7]';
       UPDATE results SET attempt = 0 WHERE key = 'score[8]';
       UPDATE run_shapes SET shape = '{"version":1,"flowId":"scoring"}';`,
    );
    const { code, stdout, stderr } = await check('--store', path);
    expect(code).toBe(2);
    expect(stdout).toContain('rows: 1 run, 121 task instances, 121 result records checked: 7 invalid rows\n');
    for (const line of [
      `  run_shapes: run 'r1': column shape = '{"version":1,"flowId":"scoring"}' does not decode into a run shape (the task graph viz run draws)`,
      "  task_instances: run 'r1', task instance 'score[3]': column state = 'bogus' is not a task-instance state",
      "  task_instances: run 'r1', task instance 'score[4]': column attempt = 9 is more than max_attempts (1)",
      "  task_instances: run 'r1', task instance 'score[5]': column attempt = 1.5 is not an integer ≥ 0",
      "  task_instances: run 'r1', task instance 'score[6]': column task_id = 'ghost' is not in the run's task list (runs.task_ids: list, score)",
      "  task_instances: run 'r1', task instance 'score[7]': column error = '{\"json\":{\"__proto__\":{\"polluted\":true}}}' does not decode: ",
      "  results: run 'r1', result of 'score[8]': column attempt = 0 is not an integer ≥ 1",
    ]) {
      expect(stdout).toContain(line);
    }
    expect(stdout).toContain('integrity_check: ok\n');
    expect(stderr).toContain(`has rows that do not decode into valid records: reads of those runs are refused. Restore the store from a backup, or correct the rows listed above (e.g. with sqlite3 ${path})`);
    expect(Object.prototype).not.toHaveProperty('polluted');

    const json = await check('--store', path, '--json');
    expect(json.code).toBe(2);
    const report = JSON.parse(json.stdout) as StoreCheckReport;
    expect(report).toMatchObject({ store: path, ok: false, error: null, integrity: [], checked: { runs: 1, taskInstances: 121, results: 121 } });
    expect(report.invalidRows.map((row) => [row.table, row.runId, row.key, row.column, row.value])).toEqual([
      ['run_shapes', 'r1', null, 'shape', '{"version":1,"flowId":"scoring"}'],
      ['task_instances', 'r1', 'score[3]', 'state', 'bogus'],
      ['task_instances', 'r1', 'score[4]', 'attempt', 9],
      ['task_instances', 'r1', 'score[5]', 'attempt', 1.5],
      ['task_instances', 'r1', 'score[6]', 'task_id', 'ghost'],
      ['task_instances', 'r1', 'score[7]', 'error', '{"json":{"__proto__":{"polluted":true}}}'],
      ['results', 'r1', 'score[8]', 'attempt', 0],
    ]);
  });

  it('a store of an older schema is checked as it is: nothing migrated', async () => {
    const path = join(dir, `${++files}`, 'old.db');
    mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, description TEXT NOT NULL)');
    db.exec(sqliteMigrations[0]!.sql);
    db.prepare('INSERT INTO schema_version VALUES (1, 0, ?)').run(sqliteMigrations[0]!.description);
    db.exec('PRAGMA user_version = 1');
    db.exec(`INSERT INTO runs VALUES ('old', 'etl', 'fp', 'running', NULL, NULL, NULL, '1', 1, 1, 1, NULL)`);
    db.exec(
      `INSERT INTO task_instances (run_id, key, task_id, state, attempt, max_attempts, retries, defer_timed_out, version, machine_version, created_at, updated_at, parked, waiting_for_event)
       VALUES ('old', 'a', 'a', 'running', 1, 1, 0, 0, 3, '2', 1, 1, 0, 0)`,
    );
    db.close();
    const before = storeHashes(path);
    const { code, stdout } = await check('--store', path);
    expect(code).toBe(0);
    expect(stdout).toContain(`store ${path} (SQLite, schema version 1)\n`);
    expect(stdout).toContain('rows: 1 run, 1 task instance, 0 result records checked: all valid\n');
    expect(storeHashes(path)).toEqual(before);
  });

  it('no file, garbage, another program’s database: exit 2 naming the file and what is wrong', async () => {
    const missing = join(dir, 'missing.db');
    const none = await check('--store', missing);
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toBe(
      `taskmachine: There is no store file "${missing}": nothing to check. Pass the store's file with --store <file> (the default is .taskmachine/taskmachine.db in the working directory).\n`,
    );

    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, Buffer.alloc(4096, 7));
    expect(await check('--store', garbage)).toMatchObject({ code: 2, stderr: expect.stringContaining(`"${garbage}" is not a SQLite database`) });

    const other = join(dir, 'other.db');
    raw(other, 'CREATE TABLE users (id INTEGER PRIMARY KEY)');
    expect(await check('--store', other)).toMatchObject({ code: 2, stderr: expect.stringContaining('is a SQLite database but not a taskmachine store') });
    // Relative paths are from the working directory, like every --store.
    expect(await check('--store', 'garbage.db')).toMatchObject({ code: 2, stderr: expect.stringContaining(`"${garbage}"`) });
  });

  it('is in the help, with its own --help; --store memory has nothing to check', async () => {
    const spawned = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(spawned.stdout).toMatch(/^ {2}check +Check a store for damage: SQLite integrity_check and every stored\n +row \(read-only\)$/m);
    const help = await check('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: taskmachine check [options]');
    expect(help.stdout).toContain('--store <file|memory>');
    expect(await check('--store', 'memory')).toMatchObject({ code: 0, stdout: expect.stringContaining('nothing to check') });
  });
});
