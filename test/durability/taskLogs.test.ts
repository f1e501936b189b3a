// Persisted task logs and the run's own shape, as the runtime writes them: ctx().log lines per
// attempt, in the turn's batch, bounded per attempt; the shape and flow hash of the definition
// that drives the run.
import { describe, expect, it } from 'vitest';
import { ctx, flow, flowHash, flowShape, runFlow, taskLogLimits } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { instrument } from './fixtures/storeChecks.ts';

const quiet = { log: () => {} };

describe('ctx().log lines are stored per attempt', () => {
  it('each line with its key, task and attempt; the retry logs under attempt 2', async () => {
    const store = memoryStore();
    const run = await runFlow(
      flow('logs', (f) => {
        const flaky = f.task(
          'flaky',
          () => {
            ctx()!.log('try', ctx()!.attempt, { of: ctx()!.maxAttempts });
            if (ctx()!.attempt === 1) throw new Error('first fails');
            return ['x', 'y'];
          },
          { retries: 1 },
        );
        f.map('each', flaky, ({ item }) => ctx()!.log(`item ${item}`));
      }),
      { store, runId: 'r', ...quiet },
    );
    expect(run.state).toBe('success');
    const lines = await store.readTaskLogs('r');
    expect(lines.filter((l) => l.key === 'flaky').map((l) => [l.attempt, l.line])).toEqual([
      [1, 'try 1 { of: 2 }'],
      [2, 'try 2 { of: 2 }'],
    ]);
    expect(lines.filter((l) => l.taskId === 'each').map((l) => [l.key, l.attempt, l.line]).sort()).toEqual([
      ['each[0]', 1, 'item x'],
      ['each[1]', 1, 'item y'],
    ]);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
  });

  it('are committed in the batch of the turn that ends the attempt, not one commit per line', async () => {
    const { store, calls } = instrument(memoryStore());
    await runFlow(
      flow('batched', (f) => {
        f.task('chatty', () => {
          for (let i = 1; i <= 50; i++) ctx()!.log(`line ${i}`);
          return 'done';
        });
      }),
      { store, runId: 'r', ...quiet },
    );
    const withLogs = calls.batches.filter((batch) => batch.logs !== undefined);
    expect(withLogs).toHaveLength(1);
    expect(withLogs[0]!.logs).toHaveLength(50);
    expect(withLogs[0]!.transitions?.map((t) => `${t.key}:${t.to}`)).toContain('chatty:success');
  });

  it(`keep at most ${taskLogLimits.linesPerAttempt} lines per attempt, then one truncation marker; long lines are cut`, async () => {
    const store = memoryStore();
    await runFlow(
      flow('bounded', (f) => {
        f.task('flood', () => {
          ctx()!.log('x'.repeat(taskLogLimits.lineLength + 10));
          for (let i = 2; i <= taskLogLimits.linesPerAttempt + 25; i++) ctx()!.log(`line ${i}`);
        });
        f.task('quiet', () => ctx()!.log('only line'));
      }),
      { store, runId: 'r', ...quiet },
    );
    const flood = await store.readTaskLogs('r', { key: 'flood' });
    expect(flood).toHaveLength(taskLogLimits.linesPerAttempt + 1);
    expect(flood[0]!.line).toBe(`${'x'.repeat(taskLogLimits.lineLength)}… (10 more characters)`);
    expect(flood[taskLogLimits.linesPerAttempt - 1]!.line).toBe(`line ${taskLogLimits.linesPerAttempt}`);
    expect(flood.at(-1)!.line).toBe(`… taskmachine: this attempt logged more than ${taskLogLimits.linesPerAttempt} lines; later lines are not stored`);
    expect((await store.readTaskLogs('r', { key: 'quiet' })).map((l) => l.line)).toEqual(['only line']);
  });

  it('are stored while the attempt runs, before it ends (for logs --follow)', async () => {
    const store = memoryStore();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const done = runFlow(
      flow('slow', (f) => {
        f.task('waits', async () => {
          ctx()!.log('started waiting');
          await released;
        });
      }),
      { store, runId: 'r', ...quiet },
    );
    // Poll the store as a follower would (the run commits a pending line within 200 ms).
    for (let i = 0; i < 100 && (await store.readTaskLogs('r')).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await store.readTaskLogs('r')).map((l) => l.line)).toEqual(['started waiting']);
    expect((await store.getRun('r'))?.state).toBe('running');
    release();
    await done;
  });
});

describe('a run keeps its own shape', () => {
  const v1 = flow('shaped', (f) => {
    const a = f.task('a', () => [1, 2]);
    f.map('b', a, ({ item }) => item, { trigger: 'all_done' });
  });

  it('stores the shape and flow hash of the definition it was created with', async () => {
    const store = memoryStore();
    await runFlow(v1, { store, runId: 'r', ...quiet });
    expect(await store.getRunShape('r')).toEqual(flowShape(v1));
    expect((await store.getRun('r'))?.flowHash).toBe(flowHash(flowShape(v1)));
  });

  it('a resume with the same definition writes no shape again; a changed definition records its own', async () => {
    const { store, calls } = instrument(memoryStore());
    await runFlow(v1, { store, runId: 'r', ...quiet });
    expect(calls.batches.filter((batch) => batch.shape !== undefined)).toHaveLength(1);
    await runFlow(v1, { store, runId: 'r', ...quiet });
    expect(calls.batches.filter((batch) => batch.shape !== undefined)).toHaveLength(1);
    const v2 = flow('shaped', (f) => {
      const a = f.task('a', () => [1, 2]);
      const b = f.map('b', a, ({ item }) => item, { trigger: 'all_done' });
      f.task('c', () => 'new', { after: b });
    });
    await runFlow(v2, { store, runId: 'r', ...quiet });
    expect(await store.getRunShape('r')).toEqual(flowShape(v2));
    expect((await store.getRun('r'))?.flowHash).toBe(flowHash(flowShape(v2)));
  });
});
