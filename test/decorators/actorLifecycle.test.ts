import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, defineDecorator, flow, startFlow } from '../../src/index.ts';

describe('decorator actors: subscribed to their task, stopped with the run', () => {
  it('an actor sees every transition of its task instances exactly once, in order, and is stopped when the run ends', async () => {
    const clock = createTestClock();
    const seen: string[] = [];
    let scopes = 0;
    const recorder = defineDecorator({
      name: 'recorder',
      defaults: {},
      hooks: {
        onTransition(change, scope) {
          if (!scope.local.has('id')) scope.local.set('id', ++scopes);
          seen.push(`${change.taskInstance.key} ${change.previousState}→${change.state}`);
          // A long timer the actor owns: stopping the actor must clear it.
          if (change.state === 'running') scope.clock.setTimeout(() => seen.push('timer fired after the end'), 3_600_000);
        },
      },
    });
    const definition = flow('recorded', (f) => {
      const list = f.task('list', () => [1, 2, 3]);
      f.map('each', list, ({ item }) => {
        if (item === 2 && ctx()!.attempt === 1) throw new Error('first attempt of item 2 fails');
        return item;
      }, { retries: 1, decorators: [recorder()] });
      f.task('plain', () => 'not decorated');
    });
    const handle = startFlow(definition, { clock, concurrency: 1, log: () => {} });
    const observed: string[] = [];
    handle.subscribe((change) => {
      if (change.taskInstance.taskId === 'each') observed.push(`${change.taskInstance.key} ${change.previousState}→${change.state}`);
    });
    let aliveWhileRunning = 0;
    handle.subscribe((change) => {
      if (change.state === 'running') aliveWhileRunning = Math.max(aliveWhileRunning, handle.stats().decoratorActors);
    });
    await clock.runAll();
    const run = await handle.done;
    expect(run.state).toBe('success');
    // Exactly the transitions of the decorated task's instances, each once, in transition order.
    expect(seen).toEqual(observed);
    expect(seen.filter((line) => line.startsWith('each[1] '))).toEqual([
      'each[1] none→scheduled',
      'each[1] scheduled→queued',
      'each[1] queued→running',
      'each[1] running→up_for_retry',
      'each[1] up_for_retry→scheduled',
      'each[1] scheduled→queued',
      'each[1] queued→running',
      'each[1] running→success',
    ]);
    // One actor for the task (its state is shared by the task's instances).
    expect(scopes).toBe(1);
    expect(aliveWhileRunning).toBe(1);
    // The run ended: the actor is stopped, its subscription and its timers are gone.
    expect(handle.stats().decoratorActors).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(3_600_000);
    expect(seen).not.toContain('timer fired after the end');
  });

  it('a reopened run spawns the actor again; after its new end it is stopped again', async () => {
    const clock = createTestClock();
    const seen: string[] = [];
    const recorder = defineDecorator({
      name: 'recorder',
      defaults: {},
      hooks: { onTransition: (change) => void seen.push(`${change.previousState}→${change.state}`) },
    });
    const handle = startFlow(flow('again', (f) => void f.task('t', () => 'done', { decorators: [recorder()] })), { clock, log: () => {} });
    await handle.done;
    expect(handle.stats().decoratorActors).toBe(0);
    seen.length = 0;
    handle.clear('t');
    await clock.runAll();
    await handle.done;
    expect(seen).toEqual(['success→none', 'none→scheduled', 'scheduled→queued', 'queued→running', 'running→success']);
    expect(handle.stats().decoratorActors).toBe(0);
  });
});
