// Run listeners (`Listener.forRun`): a listener of one run, called synchronously where the run
// begins, that can store labels with the run and choose the async context attempts run in.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import {
  ctx,
  defineDecorator,
  flow,
  registerListener,
  runFlow,
  startFlow,
  type ForRunArgs,
  type Listener,
  type TaskInstanceLogArgs,
} from '../../src/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { runListenersFor } from '../../src/listeners/runListeners.ts';
import { AttemptScopes } from '../../src/runtime/attempt/attemptScopes.ts';
import { AttemptRun, TaskInstance } from '../../src/runtime/instances/taskInstance.ts';

const scope = new AsyncLocalStorage<string>();

describe('Listener.forRun', () => {
  it('is called once, synchronously, in the async context of the code that starts the run', () => {
    const seen: Array<{ where: string | undefined; args: ForRunArgs }> = [];
    const listener: Listener = { forRun: (args) => void seen.push({ where: scope.getStore(), args }) };
    const definition = flow('once', (f) => void f.task('a', () => 1));
    const handle = scope.run('request 42', () => startFlow(definition, { listeners: [listener], labels: { team: 'data' }, log: () => {} }));
    expect(seen).toHaveLength(1);
    const [{ where, args }] = seen as [{ where: string | undefined; args: ForRunArgs }];
    expect(where).toBe('request 42');
    expect(args.flow).toBe(definition);
    expect(args.flowRun).toMatchObject({ runId: handle.runId, state: 'running' });
    expect(args.resumed).toBe(false);
    // (No store: the labels given to runFlow are what the run has.)
    expect(args.labels).toEqual({ team: 'data' });
    expect(typeof args.clock.now()).toBe('number');
    return handle.done;
  });

  it("hears only its own run's hooks, beginning with onStarting", async () => {
    const heard: Record<string, string[]> = {};
    const listener: Listener = {
      forRun: ({ flowRun }) => {
        const calls: string[] = (heard[flowRun.runId] = []);
        return {
          onStarting: () => void calls.push('starting'),
          onTaskInstanceStateChange: ({ taskInstance, state }) => void calls.push(`${taskInstance.key}:${state}`),
          onFlowRunSuccess: () => void calls.push('success'),
        };
      },
    };
    const definition = flow('two-runs', (f) => void f.task('a', () => 1));
    await Promise.all([
      runFlow(definition, { runId: 'r1', listeners: [listener], log: () => {} }),
      runFlow(definition, { runId: 'r2', listeners: [listener], log: () => {} }),
    ]);
    const expected = ['starting', 'a:scheduled', 'a:queued', 'a:running', 'a:success', 'success'];
    expect(heard).toEqual({ r1: expected, r2: expected });
  });

  it('a throwing forRun, or one returning something else than a run listener, is logged and the run goes on', async () => {
    const lines: string[] = [];
    const run = await runFlow(flow('bad-forRun', (f) => void f.task('a', () => 1)), {
      listeners: [
        { forRun: () => { throw new Error('no tracer'); } },
        { forRun: () => ({ onTaskInstanceRuning: () => {} }) as never },
        { forRun: () => ({ labels: { n: 1 } }) as never },
      ],
      log: (line) => void lines.push(line),
    });
    expect(run.state).toBe('success');
    expect(lines.filter((line) => line.startsWith("error calling listener for hook 'forRun'")).map((line) => line.split('\n')[0])).toEqual([
      "error calling listener for hook 'forRun': Error: no tracer",
      "error calling listener for hook 'forRun': 'onTaskInstanceRuning' is not a run listener member; run listeners have the listener hooks, labels, aroundAttempt and attemptCarrier; the run goes on without it",
      "error calling listener for hook 'forRun': its labels must be an object of strings; the run goes on without it",
    ]);
  });

  it('a registered listener with forRun gets a run listener for every run', async () => {
    const runs: string[] = [];
    const unregister = registerListener({ forRun: ({ flowRun }) => void runs.push(flowRun.runId) });
    try {
      await runFlow(flow('registered', (f) => void f.task('a', () => 1)), { runId: 'g1', log: () => {} });
    } finally {
      unregister();
    }
    expect(runs).toEqual(['g1']);
  });
});

describe('RunListener.labels', () => {
  it('are stored with the run; a resumed run receives them (and resumed: true)', async () => {
    const store = memoryStore();
    const begun: Array<Pick<ForRunArgs, 'labels' | 'resumed'>> = [];
    let n = 0;
    const listener: Listener = {
      forRun: ({ labels, resumed }) => {
        begun.push({ labels, resumed });
        return { labels: { 'trace.parent': `span-${++n}` } };
      },
    };
    const definition = flow('labelled', (f) => {
      f.task('wait', () => ctx()!.event ?? ctx()!.defer({ event: true }));
    });
    const first = startFlow(definition, { store, runId: 'l1', labels: { team: 'data' }, listeners: [listener], log: () => {} });
    expect((await first.settled()).waitingOn).toEqual(['wait']);
    await first.shutdown();
    expect((await store.getRun('l1'))?.labels).toEqual({ team: 'data', 'trace.parent': 'span-1' });

    const second = startFlow(definition, { store, runId: 'l1', resume: true, listeners: [listener], log: () => {} });
    await second.ready();
    second.sendEvent('wait', 'go');
    await second.done;
    expect(begun).toEqual([
      { labels: { team: 'data' }, resumed: false },
      { labels: { team: 'data', 'trace.parent': 'span-1' }, resumed: true },
    ]);
    expect((await store.getRun('l1'))?.labels).toEqual({ team: 'data', 'trace.parent': 'span-2' });
  });
});

describe('RunListener.aroundAttempt', () => {
  const tagging = (tag: string, log?: string[]): Listener => ({
    forRun: () => ({
      aroundAttempt: ({ taskInstance, attempt }, run) => {
        log?.push(`${tag} around ${taskInstance.key}#${attempt} (${taskInstance.state})`);
        return scope.run(`${scope.getStore() ?? ''}${tag}:${taskInstance.key}#${attempt} `, run);
      },
    }),
  });

  it('task code (after an await too, and inside decorators’ wrap) runs inside every scope, the first listener outermost', async () => {
    const log: string[] = [];
    const seen: Record<string, string | undefined> = {};
    const wrapped = defineDecorator({
      name: 'wrapped',
      defaults: {},
      hooks: {
        wrap: (fn) =>
          ((args: never) => {
            seen['wrap'] = scope.getStore();
            return (fn as (a: never) => unknown)(args);
          }) as never,
      },
    });
    const clock = createTestClock();
    const handle = startFlow(
      flow('scoped', (f) => {
        const a = f.task('a', async () => {
          seen['a before await'] = scope.getStore();
          await Promise.resolve();
          seen['a after await'] = scope.getStore();
          if (ctx()!.attempt === 1) throw new Error('again');
        }, { retries: 1, retryDelay: 10 });
        f.task('b', () => void (seen['b'] = scope.getStore()), { after: a, decorators: [wrapped()] });
      }),
      { clock, listeners: [tagging('outer', log), tagging('inner')], log: () => {} },
    );
    await clock.runAll();
    expect((await handle.done).state).toBe('success');
    expect(log).toEqual(['outer around a#1 (running)', 'outer around a#2 (running)', 'outer around b#1 (running)']);
    expect(seen).toEqual({
      'a before await': 'outer:a#2 inner:a#2 ',
      'a after await': 'outer:a#2 inner:a#2 ',
      wrap: 'outer:b#1 inner:b#1 ',
      b: 'outer:b#1 inner:b#1 ',
    });
  });

  it('cannot change an outcome: its own throw is logged, a swallowed task error still fails the attempt, a missing run() still runs it once', async () => {
    const lines: string[] = [];
    let runs = 0;
    const record = await runFlow(
      flow('robust', (f) => {
        f.task('throws-before', () => ++runs);
        f.task('swallows', () => {
          throw new Error('task failed');
        });
        f.task('skips-run', () => ++runs);
      }),
      {
        listeners: [
          {
            forRun: () => ({
              aroundAttempt: ({ taskInstance }, run) => {
                if (taskInstance.key === 'throws-before') throw new Error('scope broke');
                if (taskInstance.key === 'skips-run') return undefined as never;
                try {
                  return run();
                } catch {
                  return 'swallowed' as never;
                }
              },
            }),
          },
        ],
        log: (line) => void lines.push(line.split('\n')[0]!),
      },
    );
    expect(runs).toBe(2);
    expect(record.tasks['throws-before']).toMatchObject({ state: 'success', result: 1 });
    expect(record.tasks['swallows']).toMatchObject({ state: 'failed' });
    expect(record.tasks['swallows']?.error?.message).toBe('task failed');
    expect(record.tasks['skips-run']).toMatchObject({ state: 'success', result: 2 });
    expect(lines.filter((line) => line.includes('aroundAttempt'))).toEqual([
      "error calling listener for hook 'aroundAttempt': Error: scope broke",
      "error calling listener for hook 'aroundAttempt': it did not call run() for 'skips-run'; the attempt ran outside its scope",
    ]);
  });
});

describe('Listener.onTaskInstanceLog', () => {
  it('receives every ctx().log line with its task key, attempt and time, after the run’s log has it', async () => {
    const logged: TaskInstanceLogArgs[] = [];
    const lines: string[] = [];
    await runFlow(
      flow('logging', (f) => {
        f.task('a', () => ctx()!.log('rows: %d', 12));
      }),
      { clock: createTestClock(5_000), listeners: [{ onTaskInstanceLog: (args) => void logged.push(args) }], log: (line) => void lines.push(line) },
    );
    expect(lines).toEqual(['[a#1] rows: 12']);
    expect(logged).toEqual([{ taskKey: 'a', taskId: 'a', attempt: 1, message: 'rows: 12', at: 5_000 }]);
  });
});

describe('transition times', () => {
  it('onTaskInstanceStateChange and handle.subscribe tell when each change happened, on the run’s clock', async () => {
    const clock = createTestClock(1_000);
    const hooked: string[] = [];
    const observed: string[] = [];
    const handle = startFlow(
      flow('timed', (f) => {
        f.task('a', () => {
          if (ctx()!.attempt === 1) throw new Error('again');
        }, { retries: 1, retryDelay: 250 });
      }),
      { clock, listeners: [{ onTaskInstanceStateChange: ({ state, at }) => void hooked.push(`${state}@${at}`) }], log: () => {} },
    );
    handle.subscribe(({ state, at }) => void observed.push(`${state}@${at}`));
    await clock.runAll();
    await handle.done;
    const expected = ['scheduled@1000', 'queued@1000', 'running@1000', 'up_for_retry@1000', 'scheduled@1250', 'queued@1250', 'running@1250', 'success@1250'];
    expect(hooked).toEqual(expected);
    expect(observed).toEqual(expected);
  });
});

describe('RunListener.attemptCarrier', () => {
  // What a job for a worker carries (test/workers/traces.test.ts runs it end to end on PostgreSQL).
  const carried = flow('carried', (f) => void f.task('a', () => 1));
  const instance = new TaskInstance({ key: 'a', task: carried.tasks[0]! });
  const run = new AttemptRun(instance, 1);
  // (These carriers read only their own arguments.)
  const forRunArgs = { flow: carried, flowRun: {}, labels: {}, resumed: false } as unknown as ForRunArgs;

  it('merges what the carriers give (later listeners win a key); a throw or a non-string value is logged and left out', () => {
    const lines: string[] = [];
    const found = runListenersFor(
      [
        { forRun: () => ({ attemptCarrier: ({ taskInstance, attempt }) => ({ traceparent: 'first', who: `${taskInstance.key}#${attempt}` }) }) },
        { forRun: () => ({ attemptCarrier: () => { throw new Error('carrier broke'); } }) },
        { forRun: () => ({ attemptCarrier: () => ({ n: 1 }) as never }) },
        { forRun: () => ({ attemptCarrier: () => Object.defineProperty({}, 'bad', { enumerable: true, get: () => { throw new Error('getter broke'); } }) }) },
        { forRun: () => ({ attemptCarrier: () => undefined }) },
        { forRun: () => ({ attemptCarrier: () => ({ traceparent: 'last' }) }) },
      ],
      forRunArgs,
      (line) => lines.push(line),
    );
    expect(found.carriers).toHaveLength(6);
    const scopes = new AttemptScopes(found.scopes, (line) => lines.push(line.split('\n')[0]!), found.carriers);
    expect(scopes.carry(run)).toEqual({ traceparent: 'last', who: 'a#1' });
    expect(lines).toEqual([
      "error calling listener for hook 'attemptCarrier': Error: carrier broke",
      "error calling listener for hook 'attemptCarrier': it must return an object of strings (or undefined), got an object with other values",
      "error calling listener for hook 'attemptCarrier': Error: getter broke",
    ]);
    expect(new AttemptScopes([], () => {}).carry(run)).toBeUndefined();
  });

  it('a run listener whose attemptCarrier is not a function is refused, naming it', () => {
    const lines: string[] = [];
    const found = runListenersFor([{ forRun: () => ({ attemptCarrier: 'traceparent' }) as never }], forRunArgs, (line) => lines.push(line));
    expect(found.carriers).toEqual([]);
    expect(lines).toEqual(["error calling listener for hook 'forRun': its 'attemptCarrier' must be a function; the run goes on without it"]);
  });
});
