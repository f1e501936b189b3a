// Decorator actors (DecoratorActors): which decorators get one (those with onTransition, however
// many and wherever they sit among the task's decorators), what their scope's clock does (now,
// timers that fire, timers cleared), and a hook that throws (logged, the run and later
// transitions go on).
import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { defineDecorator, flow, startFlow } from '../../src/index.ts';

/** A decorator without onTransition: it gets no actor. */
const tagger = defineDecorator({ name: 'tagger', defaults: {}, hooks: { onTaskFinished: () => {} } });

function recorder(seen: string[], name: string) {
  return defineDecorator({
    name,
    defaults: { label: '' },
    hooks: { onTransition: (change, _scope, params) => void seen.push(`${params.label} ${change.previousState}→${change.state}`) },
  });
}

describe('decorator actors', () => {
  it('only decorators with onTransition get an actor, one each, even after a decorator without one', async () => {
    const clock = createTestClock();
    const seen: string[] = [];
    const lines: string[] = [];
    const first = recorder(seen, 'first-recorder');
    const second = recorder(seen, 'second-recorder');
    const handle = startFlow(
      flow('mixed', (f) => {
        f.task('t', () => 'done', { decorators: [tagger(), first({ label: 'first' }), second({ label: 'second' })] });
      }),
      { clock, log: (line) => lines.push(line) },
    );
    let alive = 0;
    handle.subscribe((change) => {
      if (change.state === 'running') alive = handle.stats().decoratorActors;
    });
    await clock.runAll();
    expect((await handle.done).state).toBe('success');
    expect(alive).toBe(2);
    expect(seen.filter((line) => line.startsWith('first '))).toEqual(['first none→scheduled', 'first scheduled→queued', 'first queued→running', 'first running→success']);
    expect(seen.filter((line) => line.startsWith('second '))).toHaveLength(4);
    expect(lines.filter((line) => line.includes('decorator'))).toEqual([]);
    expect(handle.stats().decoratorActors).toBe(0);
  });

  it('the scope clock: now() is the run clock, a timer fires after its delay, a cleared timer never fires', async () => {
    const clock = createTestClock(10_000);
    const events: string[] = [];
    const timed = defineDecorator({
      name: 'timed',
      defaults: {},
      hooks: {
        onTransition(change, scope) {
          if (change.state !== 'running') return;
          events.push(`running at ${scope.clock.now()}`);
          scope.clock.setTimeout(() => events.push(`fired at ${scope.clock.now()}`), 100);
          const cancelled = scope.clock.setTimeout(() => events.push('cancelled timer fired'), 50);
          scope.clock.clearTimeout(cancelled);
        },
      },
    });
    let release!: () => void;
    const mayEnd = new Promise<void>((resolve) => (release = resolve));
    const handle = startFlow(flow('timed', (f) => void f.task('t', () => mayEnd, { decorators: [timed()] })), { clock, log: () => {} });
    await clock.flush();
    await clock.advance(150);
    expect(events).toEqual(['running at 10000', 'fired at 10100']);
    release();
    await handle.done;
    expect(clock.pendingTimers).toBe(0);
  });

  it('an onTransition that throws is logged with the decorator name and stack; it still hears the next transitions and the run goes on', async () => {
    const clock = createTestClock();
    const lines: string[] = [];
    const heard: string[] = [];
    const boom = defineDecorator({
      name: 'boom',
      defaults: {},
      hooks: {
        onTransition(change) {
          heard.push(change.state);
          if (change.state === 'queued') throw new Error('hook broke');
        },
      },
    });
    const handle = startFlow(flow('throws', (f) => void f.task('t', () => 'ok', { decorators: [boom()] })), { clock, log: (line) => lines.push(line) });
    await clock.runAll();
    const run = await handle.done;
    expect(run.tasks['t']).toMatchObject({ state: 'success', result: 'ok' });
    expect(heard).toEqual(['scheduled', 'queued', 'running', 'success']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^taskmachine: decorator 'boom' onTransition threw: Error: hook broke\n\s+at /);
  });
});
