// A poison pill: a task that kills its process every time it runs. Each kill is an interruption
// (not a failure: retries stay 0), so the task runs again on every resume — until it has been
// interrupted more than maxInterruptions (3) times; then it fails with failure kind 'interrupted'
// and a message that says so, and the rest of the run completes. Real processes, real SIGKILLs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../src/stores/index.ts';
import { recordProblems } from './fixtures/storeChecks.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-poison-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--store', join(dir, 'runs.db'), '--view', 'lines'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

describe('a task that kills its process every time', () => {
  it('ends failed (kind interrupted) after maxInterruptions, and the rest of the run completes', async () => {
    const outcomes = [cli('run', 'test/fixtures/poison-flow.ts', '--run-id', 'pill', '--concurrency', '1')];
    for (let resume = 1; outcomes.at(-1)!.signal === 'SIGKILL' && resume <= 10; resume++) outcomes.push(cli('resume', 'pill'));
    // Killed five times, then the fifth resume fails the pill. The first kill is not counted: an
    // attempt counts as interrupted once its START is stored, and a fresh run stores a START in the
    // same commit as the attempt's first result (no extra write per task). After an unclean stop a
    // resumed run is careful: it stores each START before the body runs, so every later kill counts.
    // The first resume runs `pill` and `other` side by side (resume has the default concurrency),
    // so `other` is interrupted once with it; from then on each runs alone, and `other` succeeds.
    expect(outcomes.map((o) => o.signal)).toEqual(['SIGKILL', 'SIGKILL', 'SIGKILL', 'SIGKILL', 'SIGKILL', null]);
    const last = outcomes.at(-1)!;
    expect(last.code).toBe(1);
    expect(last.stdout + last.stderr).toMatch(/pill: Error: task instance 'pill' was interrupted 4 times .* more than maxInterruptions \(3\) allows/);
    for (const killed of outcomes.slice(0, 5)) expect(killed.stdout).toContain('pill: attempt 1, killing process');

    const store = sqliteStore({ path: join(dir, 'runs.db') });
    const loaded = (await store.loadRun('pill'))!;
    const byKey = Object.fromEntries(loaded.instances.map((i) => [i.key, i]));
    expect(loaded.run).toMatchObject({ state: 'failed', reason: 'task_failure' });
    expect(byKey['pill']).toMatchObject({ state: 'failed', attempt: 1, interruptions: 4, maxInterruptions: 3, failureKind: 'interrupted' });
    expect(byKey['pill']!.error!.message).toMatch(/more than maxInterruptions \(3\) allows.*Raise maxInterruptions/);
    for (const key of ['first', 'other', 'last']) expect(byKey[key]!.state, key).toBe('success');
    expect(byKey['other']).toMatchObject({ attempt: 1, interruptions: 1 });
    expect((await store.readTransitionLog('pill')).filter((t) => t.key === 'pill').map((t) => t.event)).toEqual([
      'SCHEDULE', 'QUEUE',
      'START', 'INTERRUPT',
      'QUEUE', 'START', 'INTERRUPT',
      'QUEUE', 'START', 'INTERRUPT',
      'QUEUE', 'START', 'INTERRUPT',
    ]);
    expect(await recordProblems(store, 'pill')).toEqual([]);
    await store.close();
  });
});
