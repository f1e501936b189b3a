// AttemptContext on its own (what `ctx()` is in an attempt): its fields, frozen; the paths and
// keys derived from them; and the argument checks of defer() and reschedule(), which throw a
// TypeError for a bad argument instead of the control-flow signal.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeferSignal, RescheduleSignal } from '../../src/context/signals.ts';
import { withCustomContext } from '../../src/context/customContext.ts';
import { taskContextStorage } from '../../src/context/taskContext.ts';
import { AttemptContext, type AttemptHost } from '../../src/runtime/attempt/attemptContext.ts';

function makeRun(key = 'load/part[2]') {
  return {
    attempt: 2,
    signal: new AbortController().signal,
    instance: {
      key,
      mapIndex: 2,
      resumeData: undefined,
      eventPayload: undefined,
      context: { maxAttempts: 3 },
      task: { id: 'part', hints: {}, published: new Map() },
    },
  } as never;
}

function makeContext(customContext: Record<string, string> = {}) {
  const calls: Array<Readonly<Record<string, string>>> = [];
  const host: AttemptHost = {
    flowId: 'f',
    runId: 'run-1',
    log: () => {},
    callChild: (_parent, _task, _input, custom) => {
      calls.push(custom);
      return Promise.resolve(undefined);
    },
    loadCheckpoint: () => Promise.resolve(undefined),
    saveCheckpoint: () => Promise.resolve(),
  };
  return { calls, context: new AttemptContext(host, makeRun(), Object.freeze(customContext)) };
}

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
};

describe('AttemptContext', () => {
  it('is frozen, with the run’s and instance’s fields; idempotencyKey and rawDataPath derive from run id and task key', () => {
    const { context } = makeContext();
    expect(Object.isFrozen(context)).toBe(true);
    expect(() => {
      (context as { attempt: number }).attempt = 5;
    }).toThrow(TypeError);
    expect({ flowId: context.flowId, runId: context.runId, taskId: context.taskId, taskKey: context.taskKey, mapIndex: context.mapIndex, attempt: context.attempt, maxAttempts: context.maxAttempts })
      .toEqual({ flowId: 'f', runId: 'run-1', taskId: 'part', taskKey: 'load/part[2]', mapIndex: 2, attempt: 2, maxAttempts: 3 });
    expect(context.idempotencyKey).toBe('run-1:load/part[2]');
    expect(context.rawDataPath).toBe(join(tmpdir(), 'taskmachine', 'run-1', encodeURIComponent('load/part[2]')));
    expect(context.env).toEqual({});
    expect(context.log).toBe(context.log);
    expect(context.checkpoint).toBe(context.checkpoint);
  });

  it('defer() refuses options that are not an object, a non-finite until, and a timeout that is not a positive number', () => {
    const { context } = makeContext();
    for (const options of [null, undefined, 'soon', 5]) {
      expect(thrown(() => context.defer(options as never))).toEqual(new TypeError('ctx().defer(options): options must be an object with until, event and/or timeout'));
    }
    expect(thrown(() => context.defer({ until: Number.NaN }))).toEqual(new TypeError('ctx().defer: until must be a Date or epoch ms, got NaN'));
    expect(thrown(() => context.defer({ until: new Date(Number.NaN) }))).toBeInstanceOf(TypeError);
    expect(thrown(() => context.defer({ until: Number.POSITIVE_INFINITY }))).toBeInstanceOf(TypeError);
    for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(thrown(() => context.defer({ event: true, timeout }))).toEqual(new TypeError(`ctx().defer: timeout must be a positive number of ms, got ${String(timeout)}`));
    }
  });

  it('defer() with any one of until (a Date or epoch ms), event: true or timeout throws the deferral', () => {
    const { context } = makeContext();
    const date = thrown(() => context.defer({ until: new Date(5_000) })) as DeferSignal;
    expect(date).toBeInstanceOf(DeferSignal);
    expect({ until: date.until, waitForEvent: date.waitForEvent, timeout: date.timeout }).toEqual({ until: 5_000, waitForEvent: false, timeout: undefined });
    const event = thrown(() => context.defer({ event: true })) as DeferSignal;
    expect({ until: event.until, waitForEvent: event.waitForEvent, timeout: event.timeout }).toEqual({ until: undefined, waitForEvent: true, timeout: undefined });
    const timeout = thrown(() => context.defer({ timeout: 1 })) as DeferSignal;
    expect(timeout).toBeInstanceOf(DeferSignal);
    expect({ until: timeout.until, waitForEvent: timeout.waitForEvent, timeout: timeout.timeout }).toEqual({ until: undefined, waitForEvent: false, timeout: 1 });
  });

  it('reschedule() takes a delay ≥ 0 (0 too) and refuses a negative or non-finite one', () => {
    const { context } = makeContext();
    for (const delay of [0, 1, 2.5]) {
      const signal = thrown(() => context.reschedule(delay)) as RescheduleSignal;
      expect(signal).toBeInstanceOf(RescheduleSignal);
      expect(signal.delay).toBe(delay);
    }
    for (const delay of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(thrown(() => context.reschedule(delay))).toEqual(new TypeError(`ctx().reschedule(delay): delay must be a number of ms ≥ 0, got ${String(delay)}`));
    }
  });

  it('call() passes the custom context in force where it is made: a withCustomContext scope of this attempt, not of another attempt', async () => {
    const { calls, context } = makeContext({ team: 'a' });
    const other = makeContext({ team: 'other' }).context;
    const child = {} as never;
    await context.call(child);
    await taskContextStorage.run(context, () => withCustomContext({ extra: '1' }, () => context.call(child)));
    // Inside another attempt's context, a context object captured from this one uses its own.
    await taskContextStorage.run(other, () => withCustomContext({ extra: '2' }, () => context.call(child)));
    expect(calls).toEqual([{ team: 'a' }, { team: 'a', extra: '1' }, { team: 'a' }]);
  });
});
