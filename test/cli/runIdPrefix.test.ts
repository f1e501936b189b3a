// Run ids taskmachine makes (random UUIDs) are listed by `status` by their first 8 characters, as
// git and docker show ids, so the list fits an 80-column terminal; every command that takes a run
// id takes such a start back (8 characters or more, when exactly one stored UUID id starts with
// it). Ids a person chose are matched whole only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from '../stores/fixtures/records.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-prefix-'));
const db = join(dir, 'runs.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--store', db], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const one = '0fe04d20-ca9d-4a20-af24-d68f8efc4657';
const twinA = '3e6081fe-085b-49dd-9581-906561dcbe45';
const twinB = '3e6081fe-aaaa-4bbb-8ccc-000000000001';

beforeAll(async () => {
  const store = sqliteStore({ path: db });
  for (const [i, runId] of [one, twinA, twinB, 'nightly-2026-12-01'].entries()) {
    await store.commit({ runId, run: makeRun(runId, { flowId: 'fan-out', state: 'success', createdAt: 1_764_740_000_000 + i }), instances: [{ record: makeInstance('a', { state: 'success', attempt: 1 }) }] });
  }
  await store.close();
});

describe('run ids by their start', () => {
  it('status lists random ids by 8 characters and chosen ids whole, in 80 columns', () => {
    const { code, stdout } = cli('status');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^0fe04d20 {2}/m);
    expect(stdout).toMatch(/^nightly-2026-12-01 {2}/m);
    expect(stdout).not.toContain(one);
    for (const line of stdout.trimEnd().split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    // --json keeps the whole ids.
    expect(JSON.parse(cli('status', '--json').stdout).map((run: { runId: string }) => run.runId)).toContain(one);
  });

  it('every command takes the start back: status, logs, viz', () => {
    const status = cli('status', '0fe04d20');
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout.split('\n')[0]).toBe(`run ${one} of flow 'fan-out': success`);
    expect(cli('status', '0FE04D20-CA9D').code).toBe(0);
    expect(cli('logs', '0fe04d20-c').stderr).toContain(`run '${one}' stored no log lines`);
    // (This fixture run has no stored graph nor flow file: viz says so, of the whole id.)
    expect(cli('viz', 'run', '0fe04d20').stderr).toContain(`run '${one}' was stored before runs kept their task graph`);
  });

  it('a start several ids share is refused, naming them; a chosen id is never matched by its start', () => {
    const shared = cli('status', '3e6081fe');
    expect(shared.code).toBe(2);
    expect(shared.stderr).toContain(`run id '3e6081fe' is the start of 2 runs' ids: `);
    expect(shared.stderr).toContain(twinA);
    expect(shared.stderr).toContain(twinB);
    expect(shared.stderr).toContain('Give more of the id');
    expect(cli('status', '3e6081fe-0').code).toBe(0);
    const chosen = cli('status', 'nightly');
    expect(chosen.code).toBe(2);
    expect(chosen.stderr).toMatch(/run 'nightly'|nightly.*not in/);
    // Shorter than the 8 characters status shows: not a start (a mistyped or pruned short id must
    // not reach a run nobody meant).
    expect(cli('status', '0fe04d2').code).toBe(2);
    expect(cli('status', '0fe0').code).toBe(2);
  });

  it('delete takes a start and deletes that run only, once however many ways it is named', () => {
    const deleted = cli('delete', '0fe04d20', one);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe(`deleted run ${one}\n`);
    expect(cli('status', one).code).toBe(2);
    expect(cli('status', twinA).code).toBe(0);
  });
});
