import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/taskmachine.js', import.meta.url));

function cli(...args: string[]) {
  // --store memory: these runs need no durability and must leave nothing in the working tree.
  const store = args[0] === 'run' ? ['--store', 'memory'] : [];
  const result = spawnSync(process.execPath, [bin, ...args, ...store], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('taskmachine run', () => {
  it('runs the ETL example, printing plain progress lines when not a TTY, and exits 0', () => {
    const { code, stdout } = cli('run', 'examples/etl.ts', '--input', '{"day":"2026-11-22"}');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^run [0-9a-f-]+ of flow 'etl' started$/m);
    expect(stdout).toMatch(/up_for_retry extract after attempt 1: Error: upstream API timed out \(attempt 1\)/);
    expect(stdout).toMatch(/running extract \(attempt 3\/4\)/);
    expect(stdout).toMatch(/success notify/);
    expect(stdout).toMatch(/run [0-9a-f-]+ success in [\d.]+s: success 4/);
  });

  it('--view none prints only the summary, with the run’s own duration', () => {
    const { code, stdout, stderr } = cli('run', 'examples/etl.ts', '--input', '{"day":"2026-11-22"}', '--view', 'none');
    expect(code).toBe(0);
    expect(stdout).toBe('');
    const seconds = Number(/run [0-9a-f-]+ success in ([\d.]+)s: success 4/.exec(stderr)?.[1]);
    // extract fails twice before it succeeds, waiting 100 ms and then 200 ms: the run cannot be shorter.
    expect(seconds).toBeGreaterThanOrEqual(0.3);
  });

  it('--json prints the run record', () => {
    const { code, stdout } = cli('run', 'examples/fan-out.ts', '--json', '--concurrency', '2', '--run-id', 'fan-1');
    expect(code).toBe(0);
    const record = JSON.parse(stdout);
    expect(record).toMatchObject({ flowId: 'fan-out', runId: 'fan-1', state: 'success', reason: null });
    expect(Object.keys(record.tasks)).toHaveLength(8);
    expect(record.tasks['score[2]']).toMatchObject({ state: 'success', mapIndex: 2 });
    expect(record.tasks['summarize'].result.documents).toBe(6);
  });

  it('--json prints circular results (a reference back is "[Circular]"); a result that cannot be stored fails only its task', () => {
    const { code, stdout } = cli('run', 'test/fixtures/circular-flow.ts', '--json');
    expect(code).toBe(1);
    const record = JSON.parse(stdout);
    expect(record.tasks.loop).toMatchObject({
      state: 'success',
      result: { name: 'root', big: '10', byName: [['x', 1]], self: '[Circular]', children: [{ parent: '[Circular]' }] },
    });
    expect(record.tasks.callback.state).toBe('failed');
    expect(record.tasks.callback.error).toMatchObject({ name: 'UnstorableValueError' });
    expect(record.tasks.callback.error.message).toMatch(/^task instance 'callback' returned a value that cannot be stored: \$\.onDone: a function cannot be stored/);
  });

  it('a failed run exits 1 and shows the first line of the error', () => {
    const { code, stdout } = cli('run', 'test/fixtures/failing-flow.ts');
    expect(code).toBe(1);
    expect(stdout).toContain('failed load: FailTask: database refused the connection\n');
    expect(stdout).toContain('upstream_failed report');
    expect(stdout).toMatch(/run [0-9a-f-]+ failed \(task_failure\)/);
    expect(stdout).not.toContain('second line is not shown');
  });

  it('a bad definition exits 2 and names every problem', () => {
    const { code, stderr } = cli('run', 'test/fixtures/bad-definition.ts');
    expect(code).toBe(2);
    expect(stderr).toContain("flow 'bad' has 2 definition problems");
    expect(stderr).toContain("task 'b': retries must be a whole number ≥ 0, got -1");
    expect(stderr).toContain('cycle: a → b → a');
  });

  it('bad usage exits 2 with what to do', () => {
    expect(cli('run', 'missing.ts')).toMatchObject({ code: 2, stderr: expect.stringContaining("cannot find flow file 'missing.ts'") });
    expect(cli('run', 'test/fixtures/no-flow.ts')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("'test/fixtures/no-flow.ts' exports no flow."),
    });
    expect(cli('run', 'examples/etl.ts', '--input', '{day:1}')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--input is not valid JSON'),
    });
    expect(cli('run', 'examples/etl.ts', '--concurrency', 'many')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--concurrency must be a whole number ≥ 1, got 'many'"),
    });
    expect(cli('run')).toMatchObject({ code: 2 });
  });

  it('finds the only exported flow and reads --input from a file', () => {
    const { code, stdout } = cli('run', 'test/fixtures/input-echo.ts', '--input', '@test/fixtures/input.json', '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).tasks.echo.result).toEqual({ day: '2026-11-22', rows: [1, 2] });
  });
});
