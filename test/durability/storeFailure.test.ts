// A store that fails under a run the CLI drives (here: locked by another connection for longer than
// its busy timeout, as a long `delete` or a second tool would): the run stops with exit 2, the error
// is printed once, and the CLI says how to continue — the pasted command goes on from the last
// committed turn once the store can be written again. Default options (retries: 0, busy timeout 5 s).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-storefail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a store locked past its busy timeout mid-run', () => {
  it('stops the run (exit 2), prints the error once and the resume command, which works once the lock is gone', async () => {
    const db = join(dir, 'runs.db');
    const release = join(dir, 'release');
    const child = spawn(process.execPath, [bin, 'run', 'test/fixtures/event-flow.ts', '--run-id', 'locked', '--store', db, '--view', 'lines'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', RELEASE: release },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (stdout.includes('running hold')) resolve();
      });
    });
    // Another connection takes the write lock and keeps it; `hold` ends, and its commit waits.
    const locker = new DatabaseSync(db);
    // (The run may be committing right now: wait for it rather than fail to take the lock.)
    locker.exec('PRAGMA busy_timeout = 5000');
    locker.exec('BEGIN IMMEDIATE');
    try {
      writeFileSync(release, '');
      expect(await exited, stderr).toBe(2);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(stderr.split('stayed locked by another connection').length - 1, stderr).toBe(1);
    expect(stderr).toContain("taskmachine: releasing the lease of run 'locked' failed on the same store error (it expires by itself; on this host a resume takes the run over at once).");
    expect(stderr).toContain(`run locked stopped on that store error.\nOnce the store can be written again, continue it with:\n  taskmachine resume locked --store ${db}\n`);

    const pasted = stderr.match(/^  (taskmachine resume .*)$/m)![1]!.split(' ');
    const resumed = spawnSync(process.execPath, [bin, ...pasted.slice(1), '--view', 'none'], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', RELEASE: release } });
    // It goes on to where the flow waits on people (exit 1, with the commands that continue it).
    expect(resumed.status, resumed.stderr).toBe(1);
    expect(resumed.stdout).toContain(`taskmachine resume-task locked sign --store ${db}`);
    expect(existsSync(release)).toBe(true);
  });
});
