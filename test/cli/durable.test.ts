import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/taskmachine.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-cli-'));
const store = join(dir, 'runs.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--store', store], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('CLI on stored runs', () => {
  it('a checkpointed run: run exits 1 waiting, status shows it, set-state/clear obey the machine, resume-task finishes it', () => {
    const first = cli('run', 'test/fixtures/checkpoint-flow.ts', '--run-id', 'cp');
    expect(first.code).toBe(1);
    expect(first.stdout).toContain('run cp is waiting on train');
    // The printed command works when pasted: it names the store the run is in.
    expect(first.stdout).toContain(`taskmachine resume-task cp train --store ${store}`);

    const status = cli('status', 'cp');
    expect(status.code).toBe(0);
    // The note does not fit beside the row at 80 columns (the store's path is long): it goes below
    // it, the command on a line of its own, whole.
    expect(status.stdout).toMatch(/^train\s+checkpointed\s+1\/1 .*\n    waiting:\n      taskmachine resume-task cp train --store \S+$/m);
    expect(status.stdout).toContain(`\n      taskmachine resume-task cp train --store ${store}\n`);
    for (const line of status.stdout.split('\n')) if (!line.includes('taskmachine resume-task')) expect(line.length, line).toBeLessThanOrEqual(80);

    const list = cli('status', '--json');
    expect(JSON.parse(list.stdout).map((run: { runId: string }) => run.runId)).toContain('cp');

    const illegal = cli('set-state', 'cp', 'train', 'running');
    expect(illegal.code).toBe(2);
    expect(illegal.stderr).toContain('--');

    expect(cli('set-state', 'cp', 'evaluate', 'skipped')).toMatchObject({ code: 0, stdout: expect.stringContaining('evaluate: none → skipped') });
    const again = cli('set-state', 'cp', 'evaluate', 'skipped');
    // A change the lifecycle refuses is bad input: exit 2, like any other.
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("event SET_STATE is not legal in state 'skipped'");
    expect(cli('clear', 'cp', 'evaluate')).toMatchObject({ code: 0, stdout: expect.stringContaining('evaluate: skipped → none') });

    const graph = cli('viz', 'run', 'cp');
    expect(graph.code).toBe(0);
    expect(graph.stdout).toContain('t0["train<br/>checkpointed"]:::checkpointed');
    expect(graph.stdout).toContain('t0 --> t1');

    const resumed = cli('resume-task', 'cp', 'train');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('run cp of flow \'checkpointing\' resumed');
    expect(resumed.stdout).toContain('listener: train success');
    expect(cli('status', 'cp').stdout).toMatch(/^evaluate\s+success/m);
  });

  it('unknown runs and tasks are clear errors', () => {
    expect(cli('status', 'nope')).toMatchObject({ code: 2, stderr: expect.stringContaining("there is no run 'nope'") });
    expect(cli('resume', 'nope')).toMatchObject({ code: 2 });
    cli('run', 'test/fixtures/checkpoint-flow.ts', '--run-id', 'cp2');
    expect(cli('clear', 'cp2', 'ghost')).toMatchObject({ code: 2, stderr: expect.stringContaining("has no task instance 'ghost'") });
  });

  it('resume-task with a key the run does not have is refused (exit 2) before any task body runs', async () => {
    // An interrupted attempt: any resume of the run would start it again in its first turn.
    const child = spawn(process.execPath, [bin, 'run', 'test/fixtures/stubborn-flow.ts', '--run-id', 'typo', '--store', store, '--grace', '100', '--view', 'lines'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', STUBBORN: '1' },
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    let stdout = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (stdout.includes('stubborn: started')) resolve();
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);

    const typo = cli('resume-task', 'typo', 'stubborn-task');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("run 'typo' has no task instance 'stubborn-task'. Known keys: stubborn.");
    const notCheckpointed = cli('resume-task', 'typo', 'stubborn');
    expect(notCheckpointed.code).toBe(2);
    expect(notCheckpointed.stderr).toContain("task instance 'stubborn': event RESUME is not legal in state 'scheduled'");
    // Nothing ran: the attempt the stop interrupted is still stored as it was left (a resume would have run it).
    const status = JSON.parse(cli('status', 'typo', '--json').stdout);
    expect(status.state).toBe('running');
    expect(status.tasks.stubborn).toMatchObject({ state: 'scheduled', attempt: 1, interruptions: 0 });
  });

  it("Ctrl-C while a task answers 'preempt' with a checkpoint that waits on a person: the printed command is resume-task, and it finishes the run", async () => {
    const runId = 'parked';
    const child = spawn(process.execPath, [bin, 'run', 'test/fixtures/slow-flow.ts', '--run-id', runId, '--store', store, '--view', 'lines'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', PARK: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (stdout.includes('long: started')) resolve();
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    // `resume` alone would only stop at the checkpoint again: the command that answers it comes first.
    expect(stderr).toContain(`run parked stopped; it waits on long. Continue it with:\n  taskmachine resume-task parked long --store ${store}\n`);
    expect(stderr).toContain(`To run the rest without answering it:\n  taskmachine resume parked --store ${store}\n`);
    for (const line of stderr.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80 + store.length);
    const pasted = stderr.match(/^  (taskmachine resume-task .*)$/m)![1]!.split(' ');
    const resumed = spawnSync(process.execPath, [bin, ...pasted.slice(1), '--json'], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', PARK: '1' } });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).tasks.after.result).toBe('after: finished from step 3');
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} shuts down gracefully: the running task checkpoints on 'preempt', exit ${code}, resume finishes the run`, async () => {
      const runId = `slow-${signal}`;
      const child = spawn(process.execPath, [bin, 'run', 'test/fixtures/slow-flow.ts', '--run-id', runId, '--store', store, '--grace', '5000'], {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1' },
      });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          if (stdout.includes('long: started')) resolve();
        });
      });
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(stderr).toContain(`taskmachine resume ${runId}`);
      expect(cli('status', runId).stdout).toMatch(/^long\s+checkpointed/m);
      const resumed = cli('resume', runId, '--json');
      expect(resumed.code).toBe(0);
      const record = JSON.parse(resumed.stdout);
      expect(record.tasks.long).toMatchObject({ state: 'success', attempts: 1, result: 'finished from step 3' });
      expect(record.tasks.after.result).toBe('after: finished from step 3');
    });
  }
});
