// Every example in examples/ runs here, so the docs that point at them cannot rot.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../bin/taskmachine.js', import.meta.url));
const node = (...args: string[]) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

describe('examples', () => {
  it('decorators.ts: retried three times, timeout caught, report degraded', () => {
    const result = node(bin, 'run', 'examples/decorators.ts', '--json', '--store', 'memory');
    expect(result.status).toBe(0);
    const run = JSON.parse(result.stdout.slice(result.stdout.indexOf('{\n')));
    expect(run.tasks['fetch-prices']).toMatchObject({ state: 'success', attempts: 3, result: { region: 'eu-west' } });
    expect(run.tasks['enrich'].result.enrichError.name).toBe('TaskTimeoutError');
    expect(run.tasks['report'].result).toBe('report without enrichment (TaskTimeoutError)');
    // The metrics decorator's `wrap` timed the report's attempt.
    expect(result.stdout).toMatch(/metrics report_ms\{task=report,attempt=1\} [\d.]+ ms/);
  });

  it('listeners.ts: the timeline includes scheduler-side transitions and the retry', () => {
    const result = node('examples/listeners.ts');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('retrying load after attempt 1: lock timeout');
    expect(result.stdout).toContain('load: running → up_for_retry (up_for_retry)\nload: up_for_retry → scheduled');
    expect(result.stdout).toContain('final: success');
  });

  it('context.ts: the checkpoint carries over the retry and the child sees the scoped region', () => {
    const result = node('examples/context.ts');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('uploaded apac.csv for region=apac team=data');
    expect(result.stdout).toContain('"attempt": 2');
    expect(result.stdout).toContain('outside any task, ctx() is undefined');
  });

  it('observability.ts: the span tree — the run in the job’s trace, attempts under it, user spans under their attempt, the child under its caller', () => {
    const result = node('examples/observability.ts');
    expect(result.status, result.stderr).toBe(0);
    // (Durations vary; the tree does not.)
    const tree = result.stdout.replace(/ \(\d+\.\d ms\)/g, '');
    expect(tree).toMatch(/^cron nightly-report\n  taskmachine\.run nightly-report  \{scheduled fetch-orders, queued fetch-orders, /);
    expect(tree).toContain(
      '    taskmachine.attempt fetch-orders #1  ERROR Error: 503 from /orders  {exception, up_for_retry}\n      GET /orders  ERROR 503 from /orders\n',
    );
    expect(tree).toContain('    taskmachine.attempt fetch-orders #2  → linked to taskmachine.attempt fetch-orders\n      GET /orders\n');
    for (const index of [0, 1, 2]) expect(tree).toContain(`\n    taskmachine.attempt price[${index}] #1\n`);
    expect(tree).toContain('    taskmachine.attempt report #1  {scheduled report/render#0, queued report/render#0, log}\n      taskmachine.attempt report/render#0 #1\n');
  });

  it('cold-storage-gate.ts: the gate holds the task, its retryable errors consume retries, then it runs', () => {
    const result = node(bin, 'run', 'examples/cold-storage-gate.ts', '--store', 'memory');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('queued merge-archives, waiting on gate glacier');
    expect(result.stdout).toContain("up_for_retry merge-archives after attempt 1: GateError: readiness gate 'glacier' failed: 2019.parquet is still being restored");
    expect(result.stdout).toContain('running merge-archives (attempt 3/3)');
    expect(result.stdout).toMatch(/success in [\d.]+s: success 3/);
  });
});
