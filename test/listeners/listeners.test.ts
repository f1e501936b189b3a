import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import {
  ctx,
  FailTask,
  flow,
  registerListener,
  runFlow,
  SkipTask,
  startFlow,
  TaskCheckpointed,
  type Listener,
} from '../../src/index.ts';

type Call = { hook: string; key?: string; previousState?: string; state?: string; msg?: string; error?: string; kind?: string; willRetry?: boolean; checkpointData?: unknown };

function recordingListener(calls: Call[]): Listener {
  const ti = (hook: string) => (args: any) =>
    void calls.push({
      hook,
      key: args.taskInstance.key,
      previousState: args.previousState,
      state: args.taskInstance.state,
      msg: args.msg,
      ...(args.error ? { error: `${args.error.constructor.name}: ${args.error.message}` } : {}),
      ...(args.failureDetails ? { kind: args.failureDetails.kind, willRetry: args.failureDetails.willRetry } : {}),
      ...('checkpointData' in args ? { checkpointData: args.checkpointData } : {}),
    });
  return {
    onTaskInstanceRunning: ti('running'),
    onTaskInstanceSuccess: ti('success'),
    onTaskInstanceFailed: ti('failed'),
    onTaskInstanceSkipped: ti('skipped'),
    onTaskInstanceCheckpointed: ti('checkpointed'),
    onFlowRunRunning: ({ msg }) => void calls.push({ hook: 'runRunning', msg }),
    onFlowRunSuccess: ({ msg }) => void calls.push({ hook: 'runSuccess', msg }),
    onFlowRunFailed: ({ msg }) => void calls.push({ hook: 'runFailed', msg }),
    onStarting: () => void calls.push({ hook: 'starting' }),
    beforeStopping: () => void calls.push({ hook: 'beforeStopping' }),
  };
}

describe('listener hooks', () => {
  it('retry then fail: up_for_retry then failed, one failed hook per attempt, previousState running', async () => {
    const calls: Call[] = [];
    const clock = createTestClock();
    const handle = startFlow(
      flow('retry-then-fail', (f) => {
        f.task('t', () => {
          throw new TypeError(`bad row in attempt ${ctx()!.attempt}`);
        }, { retries: 1, retryDelay: 100 });
      }),
      { clock, listeners: [recordingListener(calls)], log: () => {} },
    );
    await clock.runAll();
    await handle.done;
    expect(calls).toEqual([
      { hook: 'starting' },
      { hook: 'runRunning', msg: 'started' },
      { hook: 'running', key: 't', previousState: 'queued', state: 'running', msg: 'started' },
      { hook: 'failed', key: 't', previousState: 'running', state: 'up_for_retry', msg: 'up_for_retry', error: 'TypeError: bad row in attempt 1', kind: 'application', willRetry: true },
      { hook: 'running', key: 't', previousState: 'queued', state: 'running', msg: 'started' },
      { hook: 'failed', key: 't', previousState: 'running', state: 'failed', msg: 'failed', error: 'TypeError: bad row in attempt 2', kind: 'application', willRetry: false },
      { hook: 'runFailed', msg: 'task_failure' },
      { hook: 'beforeStopping' },
    ]);
  });

  it('a throwing listener is isolated and logged with the hook name; the next listener still gets the call', async () => {
    const lines: string[] = [];
    const second: string[] = [];
    const run = await runFlow(
      flow('isolated', (f) => void f.task('t', () => 'ok')),
      {
        listeners: [
          { onTaskInstanceSuccess: () => { throw new Error('listener bug'); } },
          { onTaskInstanceSuccess: async () => { throw new Error('async listener bug'); } },
          { onTaskInstanceSuccess: ({ taskInstance }) => void second.push(taskInstance.key) },
        ],
        log: (line) => lines.push(line),
      },
    );
    expect(run.tasks['t']!.state).toBe('success');
    expect(run.state).toBe('success');
    expect(second).toEqual(['t']);
    const errors = lines.filter((line) => line.startsWith("error calling listener for hook 'onTaskInstanceSuccess'"));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain('Error: listener bug\n    at ');
    expect(errors[1]).toContain('Error: async listener bug');
  });

  it('manual set-state fires the matching hook with manually_set_to_* and the real previous state', async () => {
    const calls: Call[] = [];
    const handle = startFlow(
      flow('manual', (f) => {
        f.task('a', () => 1);
        f.task('b', () => ctx()!.defer({ event: true }));
      }),
      { listeners: [recordingListener(calls)], log: () => {} },
    );
    await handle.settled();
    handle.setState('a', 'failed');
    handle.setState('b', 'skipped');
    await handle.done;
    handle.setState('a', 'success');
    await handle.done;
    const manual = calls.filter((c) => c.msg?.startsWith('manually'));
    expect(manual).toEqual([
      { hook: 'failed', key: 'a', previousState: 'success', state: 'failed', msg: 'manually_set_to_failed', error: "Error: task instance 'a' was manually set to failed", kind: 'manual', willRetry: false },
      { hook: 'skipped', key: 'b', previousState: 'deferred', state: 'skipped', msg: 'manually_set_to_skipped' },
      { hook: 'success', key: 'a', previousState: 'failed', state: 'success', msg: 'manually_set_to_success' },
    ]);
  });

  it('a skip by trigger rule fires no onTaskInstanceSkipped but does fire onTaskInstanceStateChange', async () => {
    const calls: Call[] = [];
    const changes: string[] = [];
    await runFlow(
      flow('skips', (f) => {
        const a = f.task('a', () => { throw new SkipTask(); });
        f.task('b', () => 1, { after: [a] });
      }),
      {
        listeners: [
          recordingListener(calls),
          { onTaskInstanceStateChange: ({ taskInstance, previousState, state, msg }) => void changes.push(`${taskInstance.key} ${previousState}→${state} ${msg ?? '-'}`) },
        ],
        log: () => {},
      },
    );
    expect(calls.filter((c) => c.hook === 'skipped').map((c) => c.key)).toEqual(['a']);
    expect(changes).toEqual([
      'a none→scheduled -',
      'a scheduled→queued -',
      'a queued→running started',
      'a running→skipped skipped',
      'b none→skipped -',
    ]);
  });

  it('the checkpointed hook receives checkpointData, null when none was given', async () => {
    const calls: Call[] = [];
    const handle = startFlow(
      flow('cp', (f) => {
        f.task('with', () => { throw new TaskCheckpointed({ step: 5, offset: 1024 }); });
        f.task('without', () => { throw new TaskCheckpointed(); });
      }),
      { listeners: [recordingListener(calls)], log: () => {} },
    );
    await handle.settled();
    expect(calls.filter((c) => c.hook === 'checkpointed')).toEqual([
      { hook: 'checkpointed', key: 'with', previousState: 'running', state: 'checkpointed', msg: 'checkpointed', checkpointData: { step: 5, offset: 1024 } },
      { hook: 'checkpointed', key: 'without', previousState: 'running', state: 'checkpointed', msg: 'checkpointed', checkpointData: null },
    ]);
    handle.cancel();
  });

  it('a slow async listener delays no task, and runFlow resolves only after its deliveries settle', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pending = runFlow(
      flow('slow', (f) => {
        const a = f.task('a', () => void order.push('task a'));
        f.task('b', () => void order.push('task b'), { after: [a] });
      }),
      {
        listeners: [{ onTaskInstanceSuccess: async ({ taskInstance }) => { await gate; order.push(`listener ${taskInstance.key}`); } }],
        log: () => {},
      },
    );
    let resolved = false;
    void pending.then(() => (resolved = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['task a', 'task b']);
    expect(resolved).toBe(false);
    release();
    const run = await pending;
    expect(order).toEqual(['task a', 'task b', 'listener a', 'listener b']);
    expect(run.state).toBe('success');
  });

  it('a listener that never finishes is cut off after listenerTimeout, and that is logged', async () => {
    const lines: string[] = [];
    const run = await runFlow(flow('stuck', (f) => void f.task('t', () => 1)), {
      listeners: [{ onTaskInstanceSuccess: () => new Promise<void>(() => {}) }],
      listenerTimeout: 20,
      log: (line) => lines.push(line),
    });
    expect(run.state).toBe('success');
    expect(lines).toContain('taskmachine: 1 listener(s) still busy after listenerTimeout (20 ms); not waiting for them');
  });

  it('a listener a drain gave up on is not waited for again: a stuck listener costs one listenerTimeout, not one per drain', async () => {
    const lines: string[] = [];
    const handle = startFlow(flow('stuck-twice', (f) => void f.task('t', () => 1)), {
      listeners: [{ onTaskInstanceSuccess: () => new Promise<void>(() => {}) }],
      listenerTimeout: 20,
      log: (line) => lines.push(line),
    });
    await handle.done;
    // The CLI waits for persisted() after the run settled (and a shutdown drains as well).
    await handle.persisted();
    await handle.persisted();
    expect(lines.filter((line) => line.includes('still busy after listenerTimeout'))).toHaveLength(1);
  });

  it('registerListener applies to every later run until unregistered; misspelled hooks are rejected', async () => {
    const seen: string[] = [];
    const unregister = registerListener({ onFlowRunSuccess: ({ flowRun }) => void seen.push(flowRun.flowId) });
    await runFlow(flow('one', (f) => void f.task('t', () => 1)), { log: () => {} });
    unregister();
    await runFlow(flow('two', (f) => void f.task('t', () => 1)), { log: () => {} });
    expect(seen).toEqual(['one']);
    expect(() => registerListener({ onTaskSuccess: () => {} } as never)).toThrow(
      "registerListener: 'onTaskSuccess' is not a listener hook; hooks are: onStarting,",
    );
  });

  it('failed hooks fire exactly once per failed attempt across many tasks', async () => {
    let failedHooks = 0;
    const run = await runFlow(
      flow('many', (f) => {
        for (let i = 0; i < 50; i++) f.task(`t${i}`, () => { throw new FailTask('no'); });
      }),
      { listeners: [{ onTaskInstanceFailed: () => void failedHooks++ }], log: () => {} },
    );
    expect(run.state).toBe('failed');
    expect(failedHooks).toBe(50);
  });

  it('a graceful shutdown gives listeners their beforeStopping too', async () => {
    const calls: string[] = [];
    const handle = startFlow(
      flow('stopping', (f) => {
        f.task('t', () => new Promise((_, reject) => ctx()!.signal.addEventListener('abort', () => reject(ctx()?.signal.reason ?? 'preempt'))));
      }),
      { listeners: [{ onStarting: () => void calls.push('starting'), beforeStopping: () => void calls.push('beforeStopping') }], log: () => {} },
    );
    await new Promise((resolve) => setImmediate(resolve));
    const record = await handle.shutdown({ graceMs: 1_000 });
    expect(record.state).toBe('running');
    expect(calls).toEqual(['starting', 'beforeStopping']);
  });
});
