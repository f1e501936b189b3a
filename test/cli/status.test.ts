// `status <run>` reads pages, not the run: counts first (per mapped task), then failures, then what
// runs or waits, then the rest, up to --limit; --state and --task select; --json carries the same.
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
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-status-'));
const db = join(dir, 'runs.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--store', db], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  // 'wide': extract, then a map of 300 (score[7] and score[150] failed, score[299] running), then report (upstream_failed).
  const store = sqliteStore({ path: db });
  const keys = ['extract', ...Array.from({ length: 300 }, (_, i) => `score[${i}]`), 'report'];
  const stateOf = (key: string) =>
    key === 'score[7]' || key === 'score[150]' ? 'failed' : key === 'score[299]' ? 'running' : key === 'report' ? 'upstream_failed' : 'success';
  await store.commit({
    runId: 'wide',
    run: makeRun('wide', { flowId: 'wide', state: 'running', taskIds: ['extract', 'score', 'report'] }),
    instances: keys.map((key) => ({
      record: makeInstance(key, {
        state: stateOf(key),
        attempt: key === 'report' ? 0 : 1,
        ...(key.startsWith('score[') ? { mapIndex: Number(key.slice(6, -1)) } : {}),
        ...(stateOf(key) === 'failed' ? { error: new Error(`${key} broke`), failureKind: 'application' as const } : {}),
        // (score[3]'s worker died once under it: an interruption, which uses no retry.)
        ...(key === 'score[3]' ? { interruptions: 1 } : {}),
      }),
      expectedVersion: 0,
    })),
    results: keys.filter((key) => stateOf(key) === 'success').map((key) => ({ key, attempt: 1, value: { key }, at: 1_500 })),
  });
  await store.close();
});

describe('status <run> on a large run', () => {
  it('notes an interrupted instance (ATTEMPTS does not show it: an interruption uses no retry)', () => {
    const { code, stdout } = cli('status', 'wide', '--task', 'score', '--state', 'success', '--limit', '5');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^score\[3\]\s+success\s+1\/3\s+.*\s+interrupted 1×$/m);
    expect(stdout).toMatch(/^score\[2\]\s+success\s+1\/3\s+-\s+-$/m);
  });

  it('shows the counts (the map summarized), then failures, then what runs, then the rest, up to --limit', () => {
    const { code, stdout } = cli('status', 'wide', '--limit', '5');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe("run wide of flow 'wide': running");
    expect(lines).toContain('302 task instances: running 1, success 298, failed 2, upstream_failed 1');
    expect(lines).toContain('  score (300 instances): running 1, success 297, failed 2');
    const rows = lines.filter((line) => /^(extract|score\[\d+\]|report) /.test(line)).map((line) => line.split(/\s+/).slice(0, 2).join(' '));
    expect(rows).toEqual(['score[7] failed', 'score[150] failed', 'report upstream_failed', 'score[299] running', 'extract success']);
    expect(stdout).toContain('score[7]    failed           1/3');
    expect(stdout).toContain('Error: score[7] broke');
    expect(lines).toContain('… 297 more task instances: narrow with --state or --task, or raise --limit');
  });

  it('--state and --task select; --json carries counts, results and how many more', () => {
    const failed = cli('status', 'wide', '--state', 'failed,upstream_failed');
    expect(failed.stdout.split('\n').filter((line) => /^(score|report)/.test(line)).map((line) => line.split(/\s+/)[0])).toEqual(['score[7]', 'score[150]', 'report']);
    expect(failed.stdout).not.toContain('more task instances');
    const json = JSON.parse(cli('status', 'wide', '--task', 'score', '--state', 'success', '--limit', '3', '--json').stdout);
    expect(Object.keys(json.tasks)).toEqual(['score[0]', 'score[1]', 'score[2]']);
    expect(json.tasks['score[1]'].result).toEqual({ key: 'score[1]' });
    expect(json.more).toBe(294);
    expect(json.counts.byState).toEqual({ running: 1, success: 298, failed: 2, upstream_failed: 1 });
    expect(json.input).toBeUndefined();
    expect(cli('status', 'wide', '--state', 'skipped').stdout).toMatch(/no task instance matches\n$/);
    const bad = cli('status', 'wide', '--state', 'faild');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown task instance state 'faild'");
    expect(cli('status', '--state', 'failed').stderr).toContain('--state and --task need a run id');
  });
});
