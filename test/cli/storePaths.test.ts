// A store path the process cannot use — a directory it may not write (SQLite creates the -wal and
// -shm files beside the store), a parent that is a file — is refused with an error naming the path
// and the fix; the CLI exits 2 (bad store), not 1 (a failed run). Permissions do not bind root, so
// as root the CLI runs without the capabilities that override them (setpriv, from util-linux,
// drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH): a directory's mode then binds its root owner.
// (Not as another user: that user may not even reach a checkout in a private directory.)
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { sqliteStore, StoreError } from '../../src/stores/index.ts';
import { fileHash } from '../durability/fixtures/storeChecks.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-paths-'));
chmodSync(dir, 0o755);
afterAll(() => {
  chmodSync(join(dir, 'ro'), 0o755);
  rmSync(dir, { recursive: true, force: true });
});
const readOnly = join(dir, 'ro');
mkdirSync(readOnly);

const asRoot = process.getuid?.() === 0;

function cli(...args: string[]) {
  const [command, commandArgs] = asRoot
    ? ['setpriv', ['--bounding-set', '-dac_override,-dac_read_search', process.execPath, bin, ...args]]
    : [process.execPath, [bin, ...args]];
  const result = spawnSync(command, commandArgs, { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (result.error) throw new Error(`${command} could not be started: ${result.error.message}`);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('a store in a directory this user may not write', () => {
  it('a new store file there: exit 2 naming the file, the directory and the fix', async () => {
    chmodSync(readOnly, 0o555);
    const path = join(readOnly, 'new.db');
    const { code, stderr } = cli('run', 'test/fixtures/input-echo.ts', '--store', path);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain(`taskmachine: Cannot open the store file "${path}": its directory "${readOnly}" is not writable by this user`);
    expect(stderr).toContain('Point the store at a path this user can write (--store <file> on the command line)');
    // A command that only reads runs does not try to create it.
    const status = cli('status', '--store', path);
    expect(status.code, status.stderr).toBe(2);
    expect(status.stderr).toContain(`taskmachine: Cannot open the store file "${path}": there is no such file`);
  });

  it('an existing store file there: exit 2 with the same fix, and the file unchanged', async () => {
    chmodSync(readOnly, 0o755);
    const path = join(readOnly, 'existing.db');
    const store = sqliteStore({ path });
    await runFlow(
      flow('etl', (f) => {
        f.task('extract', () => 'rows');
      }),
      { store, runId: 'r1', log: () => {} },
    );
    await store.close();
    chmodSync(readOnly, 0o555);
    const before = fileHash(path);
    const { code, stderr } = cli('status', 'r1', '--store', path);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain(`taskmachine: Cannot open the store file "${path}": `);
    expect(stderr).toMatch(/not writable by this user/);
    expect(stderr).toContain('Point the store at a path this user can write');
    expect(fileHash(path)).toBe(before);
  });
});

describe('a store path whose parent is a file', () => {
  const file = join(dir, 'notes.txt');
  writeFileSync(file, 'not a directory');
  for (const [what, path] of [
    ['the parent itself', join(file, 'runs.db')],
    ['a parent further up', join(file, 'sub', 'runs.db')],
  ] as const) {
    it(`${what}: StoreError naming the path and the fix; the CLI exits 2`, () => {
      expect(() => sqliteStore({ path })).toThrow(StoreError);
      expect(() => sqliteStore({ path })).toThrow(new RegExp(`Cannot open the store file "${path}": its directory ".*" cannot be created: a part of the path ".*" is not a directory`));
      const { code, stderr } = cli('status', '--store', path);
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(`Cannot open the store file "${path}"`);
    });
  }
});
