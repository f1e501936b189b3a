// The scheduler's turn loop: a turn runs until nothing moves, evaluates a finished attempt's
// downstream before it starts the next queued attempt, starts at most 256 attempts before it yields
// to the event loop, and counts its turns (`stats().turns`) the same on every run.
import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { flow, startFlow } from '../../src/index.ts';

const quiet = { log: () => {} };

function independentTasks(n: number) {
  return flow(`independent${n}`, (f) => {
    for (let i = 0; i < n; i++) f.task(`t${i}`, () => i);
  });
}

describe('scheduler turns', () => {
  it('a run of synchronous tasks ends in one turn; a finished task’s downstream is queued before the next queued task starts', async () => {
    const handle = startFlow(
      flow('order', (f) => {
        const a = f.task('a', () => 1);
        f.task('c1', () => 1);
        f.task('b', () => 2, { after: [a] });
        f.task('c2', () => 1);
      }),
      quiet,
    );
    const order: string[] = [];
    handle.subscribe((c) => order.push(`${c.taskInstance.key}:${c.state}`));
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(order).toEqual([
      'a:scheduled', 'a:queued', 'c1:scheduled', 'c1:queued', 'c2:scheduled', 'c2:queued',
      'a:running', 'a:success',
      // `a` ended inside the turn: its downstream is evaluated and queued before `c1` starts.
      'b:scheduled', 'b:queued',
      'c1:running', 'c1:success', 'c2:running', 'c2:success', 'b:running', 'b:success',
    ]);
    expect(handle.stats()).toMatchObject({ turns: 1, triggerEvaluations: 4 });
  });

  it('yields to the event loop after 256 starts: a setImmediate callback sees the run progress slice by slice', async () => {
    const handle = startFlow(independentTasks(600), quiet);
    let started = 0;
    handle.subscribe((c) => {
      if (c.state === 'running') started++;
    });
    const seen: Array<{ started: number; turns: number }> = [];
    let ended = false;
    void handle.done.then(() => (ended = true));
    const observe = () => {
      if (ended) return;
      seen.push({ started, turns: handle.stats().turns });
      setImmediate(observe);
    };
    setImmediate(observe);
    const run = await handle.done;
    expect(run.state).toBe('success');
    expect(seen.slice(0, 2)).toEqual([
      { started: 256, turns: 1 },
      { started: 512, turns: 2 },
    ]);
    expect(handle.stats()).toMatchObject({ turns: 3, triggerEvaluations: 600, actorsCreated: 600 });
  });

  it('a run of exactly two budgets of starts takes three turns (the last one finds nothing left and ends the run)', async () => {
    const handle = startFlow(independentTasks(512), quiet);
    expect((await handle.done).state).toBe('success');
    expect(handle.stats().turns).toBe(3);
  });

  it('takes no turn once the run has ended', async () => {
    const handle = startFlow(independentTasks(3), quiet);
    await handle.done;
    const { turns } = handle.stats();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(handle.stats().turns).toBe(turns);
  });

  it('a run whose leaf task failed ends failed with reason task_failure; one without ends success', async () => {
    const failing = startFlow(
      flow('leaf-fails', (f) => {
        const a = f.task('a', () => 1);
        f.task('b', () => {
          throw new Error('boom');
        }, { after: [a] });
      }),
      quiet,
    );
    expect(await failing.done).toMatchObject({ state: 'failed', reason: 'task_failure' });
    const passing = startFlow(independentTasks(2), quiet);
    const run = await passing.done;
    expect(run.state).toBe('success');
    expect(run.reason).toBeNull();
  });

  it('runs at most `concurrency` attempts at a time, and fills every slot', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('slots', (f) => {
        for (let i = 0; i < 20; i++) f.task(`t${i}`, () => new Promise<number>((resolve) => clock.setTimeout(() => resolve(i), 10 + (i % 4))));
      }),
      // Three slots, so that most tasks wait for one.
      { clock, concurrency: 3, ...quiet },
    );
    let running = 0;
    let most = 0;
    handle.subscribe((c) => {
      if (c.state === 'running') most = Math.max(most, ++running);
      else if (c.previousState === 'running') running--;
    });
    await clock.runAll();
    expect((await handle.done).state).toBe('success');
    expect(most).toBe(3);
  });
});
