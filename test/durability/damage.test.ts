// Damage is refused, not written to: after an unclean stop (a lease that was never released, whose
// holder is gone) opening a SQLite store runs PRAGMA quick_check before anything is written, and
// a damaged file is refused with StoreCorruptError, left byte-for-byte as it was. A store whose
// last writer stopped cleanly is opened without paying for the check.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { sqliteStore, StoreCorruptError, type LeaseOwner } from '../../src/stores/index.ts';
import { openChecks } from '../../src/stores/sqlite/inspectFile.ts';
import { filesBeside, flipDataPages, storeHashes } from './fixtures/damage.ts';

const quiet = { log: () => {} };
const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-damage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const scoring = flow('scoring', (f) => {
  const list = f.task('list', () => Array.from({ length: 300 }, (_, i) => i));
  f.map('score', list, ({ item }) => ({ item, note: `item ${item} scored` }));
});

const few = flow('few', (f) => {
  const list = f.task('list', () => [1, 2, 3]);
  f.map('score', list, ({ item }) => item * 2);
});

/** A pid that no process has (a child that has exited). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

/**
 * A closed store file holding run r1 (301 task instances over several data pages) whose lease
 * was taken by `owner` at `now` for `ttlMs` and never released — or released, when `release` is set.
 */
async function storeWithLease(owner: LeaseOwner, options: { now?: number; ttlMs?: number; release?: boolean } = {}): Promise<string> {
  const path = join(dir, `${++files}`, 'runs.db');
  const store = sqliteStore({ path });
  await runFlow(scoring, { store, runId: 'r1', ...quiet });
  const { lease } = await store.acquireLease({ runId: 'r1', owner, ttlMs: options.ttlMs ?? 30_000, now: options.now ?? Date.now() });
  if (options.release === true) await store.releaseLease(lease, Date.now());
  await store.close();
  return path;
}

function openError(path: string): unknown {
  try {
    sqliteStore({ path });
  } catch (error) {
    return error;
  }
  throw new Error(`sqliteStore opened ${path}`);
}

const expired = { ownerId: 'gone', host: 'worker-7', pid: 4242 };

describe('after an unclean stop, a damaged store file is refused and left unchanged', () => {
  const uncleanStops: ReadonlyArray<[string, () => Promise<string>]> = [
    ['a lease that expired without being released', () => storeWithLease(expired, { now: Date.now() - 60_000, ttlMs: 30_000 })],
    ['a live lease of a process of this host that no longer exists', () => storeWithLease({ ownerId: 'killed', host: hostname(), pid: deadPid() })],
  ];
  for (const [stop, make] of uncleanStops) {
    it(`${stop}: byte flips in the run's data pages → StoreCorruptError naming the file, the damage and the fix`, async () => {
      const path = await make();
      const damaged = flipDataPages(path, 'task_instances');
      expect(damaged.length).toBeGreaterThan(1);
      const before = storeHashes(path);
      const beside = filesBeside(path);
      const checks = openChecks.quickChecks;

      const error = openError(path);
      expect(error).toBeInstanceOf(StoreCorruptError);
      expect(error).toMatchObject({ path });
      const message = (error as Error).message;
      expect(message).toContain(`The store file "${path}" is damaged: PRAGMA quick_check found`);
      expect(message).toMatch(new RegExp(`Tree \\d+ page (${damaged.join('|')})`));
      expect(message).toMatch(/its last writer stopped uncleanly: the lease of run 'r1' \(pid \d+ on [^,]+, last seen [0-9T:.-]+Z\) was never released/);
      expect(message).toContain('Nothing was written to it. Restore it from a backup, or move it away');
      expect(message).toContain(`'taskmachine check --store ${path}' prints a full report.`);
      expect(message).toMatch(/The file was not changed\.$/);
      expect(openChecks.quickChecks).toBe(checks + 1);

      // Byte for byte the same, and no -wal/-shm files appeared: the check read it, nothing wrote it.
      expect(storeHashes(path)).toEqual(before);
      expect(filesBeside(path)).toEqual(beside);
      // runFlow on it refuses the same way (the store cannot be made).
      expect(() => runFlow(scoring, { store: sqliteStore({ path }), runId: 'r1', resume: true, ...quiet })).toThrow(StoreCorruptError);
      expect(storeHashes(path)).toEqual(before);
    });
  }

  it('a sound file after an unclean stop passes the check and opens: the run resumes', async () => {
    const path = await storeWithLease(expired, { now: Date.now() - 60_000, ttlMs: 30_000 });
    const checks = openChecks.quickChecks;
    const store = sqliteStore({ path });
    expect(openChecks.quickChecks).toBe(checks + 1);
    const run = await runFlow(scoring, { store, runId: 'r1', resume: true, ...quiet });
    expect(run.state).toBe('success');
    await store.close();
  });
});

describe('a store whose last writer stopped cleanly does not pay for the check', () => {
  const cleanStops: ReadonlyArray<[string, () => Promise<string>]> = [
    ['every lease released (the run ended)', () => storeWithLease(expired, { release: true })],
    ['a live lease of another host (its store is in use, not abandoned)', () => storeWithLease({ ownerId: 'busy', host: 'worker-9', pid: 1 })],
    ['a live lease of this process', () => storeWithLease({ ownerId: 'me', host: hostname(), pid: process.pid })],
  ];
  for (const [stop, make] of cleanStops) {
    it(`${stop}: no quick_check`, async () => {
      const path = await make();
      const checks = openChecks.quickChecks;
      const store = sqliteStore({ path });
      expect(openChecks.quickChecks).toBe(checks);
      expect((await store.getRun('r1'))?.state).toBe('success');
      await store.close();
    });
  }

  it('a run that ends releases its lease, so the next open is not checked', async () => {
    const path = join(dir, `${++files}`, 'runs.db');
    const first = sqliteStore({ path });
    await runFlow(scoring, { store: first, runId: 'r1', ...quiet });
    await first.close();
    const checks = openChecks.quickChecks;
    const again = sqliteStore({ path });
    expect(openChecks.quickChecks).toBe(checks);
    await again.close();
  });
});

describe('damage met by a write mid-run (the store opened cleanly, so it was not checked)', () => {
  it('run stops with exit 2 and prints the damage once, with the run id and the fix', async () => {
    // A run small enough that its instances sit on one leaf page; the next run's 315 instances
    // fill that page, and splitting it reads the damaged cell pointers: the write fails mid-run.
    const path = join(dir, `${++files}`, 'runs.db');
    const store = sqliteStore({ path });
    await runFlow(few, { store, runId: 'r1', ...quiet });
    await store.close();
    expect(flipDataPages(path, 'task_instances')).toHaveLength(1);
    const result = spawnSync(process.execPath, [bin, 'run', 'test/fixtures/worker-scale-flow.ts', '--run-id', 'hit', '--store', path, '--view', 'none'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', ITEMS: '300', PACE_MS: '0' },
    });
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toContain(`taskmachine: run 'hit' stopped: the store refused a write: The store file "${path}" is damaged`);
    expect(result.stderr).toContain(`'taskmachine check --store ${path}' prints a full report.`);
    // The run's own line says it all; the CLI does not print the same message again.
    expect(result.stderr.split('is damaged').length - 1, result.stderr).toBe(1);
  });
});

describe('a real process killed with SIGKILL mid-run, then bytes flipped in the data pages', () => {
  function cli(...args: string[]) {
    const result = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('status, resume and runFlow refuse the file (exit 2 naming it); the store file and its WAL stay byte-for-byte the same', async () => {
    const path = join(dir, `${++files}`, 'runs.db');
    const child = spawn(process.execPath, [bin, 'run', 'test/fixtures/damage-flow.ts', '--run-id', 'killed', '--store', path, '--view', 'none'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', DAMAGE_STORE: path },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('stuck: ready')) resolve();
      });
      child.on('exit', () => reject(new Error(`the run ended before it was killed: ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const damaged = flipDataPages(path, 'task_instances');
    expect(damaged.length).toBeGreaterThan(1);
    const before = storeHashes(path);
    expect(Object.keys(before)).toEqual(['runs.db', 'runs.db-wal']); // the killed process left its WAL behind

    for (const args of [['status', 'killed'], ['resume', 'killed'], ['status']]) {
      const { code, stderr: message } = cli(...args, '--store', path);
      expect(code, `${args.join(' ')}: ${message}`).toBe(2);
      expect(message).toContain(`taskmachine: The store file "${path}" is damaged: PRAGMA quick_check found`);
      expect(message).toMatch(/the lease of run 'killed' \(pid \d+ on .*\) was never released/);
      expect(message).toContain('The file was not changed.');
    }
    // taskmachine check lists the damage, and changes nothing either.
    const checked = cli('check', '--store', path);
    expect(checked.code).toBe(2);
    expect(checked.stdout).toMatch(new RegExp(`^  Tree \\d+ page (${damaged.join('|')})`, 'm'));
    expect(checked.stderr).toContain(`the store file "${path}" is damaged (integrity_check found problems)`);
    expect(() => sqliteStore({ path })).toThrow(StoreCorruptError);
    expect(storeHashes(path)).toEqual(before);
  });
});
