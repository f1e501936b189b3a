// A gate round (test/gates/gates.test.ts covers the gates' outcomes): what an instance still waits
// on while its gates prepare, the gates' log lines, and a failed gate's retry timer.
import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { ctx, defineGate, flow, startFlow } from '../../src/index.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('gate rounds', () => {
  it('pendingGates names the gates not yet passed, shrinking as each passes, and is gone once all passed', async () => {
    const clock = createTestClock();
    const [first, second] = [deferred(), deferred()];
    const lines: string[] = [];
    const handle = startFlow(
      flow('two-gates', (f) => void f.task('t', () => 'ran')),
      {
        clock,
        log: (line: string) => lines.push(line),
        gates: [
          defineGate({ name: 'g1', prepare: (_ti, { log }) => (log('warming', 1), first.promise) }),
          defineGate({ name: 'g2', prepare: () => second.promise }),
        ],
      },
    );
    await clock.flush();
    expect(handle.taskInstance('t')).toMatchObject({ state: 'queued', pendingGates: ['g1', 'g2'] });
    expect(lines).toContain('[t#1 gate g1] warming 1');
    first.resolve();
    await clock.flush();
    expect(handle.taskInstance('t')).toMatchObject({ state: 'queued', pendingGates: ['g2'] });
    second.resolve();
    const run = await handle.done;
    expect(run.tasks['t']).toMatchObject({ state: 'success', result: 'ran' });
    expect(handle.taskInstance('t')!.pendingGates).toBeUndefined();
  });

  it('a gate failing for good arms no retry timer, even while the run goes on with other work', async () => {
    const clock = createTestClock();
    const other = deferred();
    const handle = startFlow(
      flow('gate-fails', (f) => {
        f.task('t', () => 'ran', { retries: 2, retryDelay: 1_000 });
        f.task('other', () => other.promise);
      }),
      {
        clock,
        log: () => {},
        gates: [
          defineGate({
            name: 'quota',
            prepare: async (ti) => {
              if (ti.taskId === 't') throw new Error('over quota');
            },
          }),
        ],
      },
    );
    await clock.flush();
    expect(handle.taskInstance('t')).toMatchObject({ state: 'failed', failureKind: 'gate' });
    expect(handle.taskInstance('other')!.state).toBe('running');
    expect(clock.pendingTimers).toBe(0);
    other.resolve();
    expect((await handle.done).state).toBe('failed');
  });

  it('a round that passed is over: a gated task that then defers leaves the run waiting on it', async () => {
    const clock = createTestClock();
    const handle = startFlow(
      flow('gated-defer', (f) => {
        f.task('t', () => {
          if (ctx()!.event === undefined) ctx()!.defer({ event: true });
          return ctx()!.event;
        });
      }),
      { clock, log: () => {}, gates: [defineGate({ name: 'g', prepare: async () => {} })] },
    );
    let waitingOn: readonly string[] | undefined;
    void handle.settled().then((record) => (waitingOn = record.waitingOn));
    await clock.flush();
    expect(handle.taskInstance('t')!.state).toBe('deferred');
    expect(waitingOn).toEqual(['t']);
    handle.sendEvent('t', 'go');
    expect((await handle.done).tasks['t']).toMatchObject({ state: 'success', result: 'go' });
  });
});
