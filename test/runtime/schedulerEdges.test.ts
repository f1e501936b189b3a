// Edges of the scheduler's turn loop that the run relies on: a turn that throws ends the run
// (failed, task_failure, logged) instead of leaving it hanging; a shutdown's grace ends exactly
// when the last attempt and the last settling decorator hook are done (not earlier, not only at
// the grace timer); concurrent settles share one turn, a hook that starts settling asks for none;
// a run that let go takes no more turns.
import { describe, expect, it } from 'vitest';
import { createTestClock, type Clock } from '../../src/clock.ts';
import { defineDecorator, flow, startFlow } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';
import type { Store } from '../../src/stores/index.ts';

const quiet = { log: () => {} };

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Whether `promise` has settled by now (after `flush`). */
function tracked<T>(promise: Promise<T>) {
  const state = { done: false };
  void promise.then(() => (state.done = true));
  return state;
}

describe('a turn that throws', () => {
  it('ends the run failed with reason task_failure and logs the error with its stack, instead of hanging', async () => {
    const base = createTestClock();
    // A clock that refuses timers: starting `b` (it has a deadline) throws inside the turn.
    const clock: Clock = {
      now: () => base.now(),
      setTimeout: () => {
        throw new Error('timer refused');
      },
      clearTimeout: (handle) => base.clearTimeout(handle),
    };
    const logs: string[] = [];
    const handle = startFlow(
      flow('throwing-turn', (f) => {
        f.task('a', () => 1);
        f.task('b', () => 2, { timeout: 1_000 });
      }),
      { clock, log: (line: string) => logs.push(line) },
    );
    const order: string[] = [];
    handle.subscribe((c) => order.push(`${c.taskInstance.key}:${c.state}`));
    const ended = tracked(handle.done);
    await base.flush();
    expect(ended.done).toBe(true);
    expect(await handle.done).toMatchObject({ state: 'failed', reason: 'task_failure' });
    expect(order).toEqual(['a:scheduled', 'a:queued', 'b:scheduled', 'b:queued', 'a:running', 'a:success', 'b:running']);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^taskmachine: internal error in a scheduler turn: Error: timer refused\n\s+at /);
    expect(handle.stats().turns).toBe(1);
  });
});

describe('the end of a run', () => {
  it('a failed leaf ends the run with task_failure straight from the progress check: no internal error is logged', async () => {
    const logs: string[] = [];
    const handle = startFlow(
      flow('leaf-fails', (f) => {
        const a = f.task('a', () => 1);
        f.task('b', () => {
          throw new Error('boom');
        }, { after: [a] });
      }),
      { log: (line: string) => logs.push(line) },
    );
    expect(await handle.done).toMatchObject({ state: 'failed', reason: 'task_failure' });
    expect(logs.filter((line) => line.includes('internal error'))).toEqual([]);
    expect(handle.stats().turns).toBe(1);
  });
});

describe('an instance changed by hand as it is scheduled', () => {
  it('is not queued when an observer set it by hand on its way from ready to scheduled', async () => {
    const logs: string[] = [];
    const handle = startFlow(
      flow('hand-set', (f) => {
        const a = f.task('a', () => 1);
        f.task('b', () => 2, { after: [a] });
        f.task('c', () => 3);
      }),
      { log: (line: string) => logs.push(line) },
    );
    const order: string[] = [];
    handle.subscribe((c) => {
      order.push(`${c.taskInstance.key}:${c.state}`);
      if (c.state === 'scheduled' && c.taskInstance.key !== 'a') handle.setState(c.taskInstance.key as 'b' | 'c', 'skipped');
    });
    expect((await handle.done).state).toBe('success');
    expect(order).toEqual(['a:scheduled', 'a:queued', 'c:scheduled', 'c:skipped', 'a:running', 'a:success', 'b:scheduled', 'b:skipped']);
    expect(logs).toEqual([]);
  });

  it('is not queued when an observer set it by hand as its retry timer scheduled it again', async () => {
    const clock = createTestClock();
    const logs: string[] = [];
    let calls = 0;
    const handle = startFlow(
      flow('hand-set-retry', (f) => {
        f.task(
          't',
          () => {
            calls++;
            throw new Error('flake');
          },
          { retries: 1, retryDelay: 1_000 },
        );
      }),
      { clock, log: (line: string) => logs.push(line) },
    );
    const order: string[] = [];
    handle.subscribe((c) => {
      order.push(`${c.previousState}>${c.state}`);
      if (c.state === 'scheduled' && c.previousState === 'up_for_retry') handle.setState('t', 'skipped');
    });
    await clock.flush();
    await clock.advance(1_000);
    expect((await handle.done).state).toBe('success');
    expect(calls).toBe(1);
    expect(order).toEqual(['none>scheduled', 'scheduled>queued', 'queued>running', 'running>up_for_retry', 'up_for_retry>scheduled', 'scheduled>skipped']);
    expect(logs).toEqual([]);
  });
});

describe('a shutdown’s grace', () => {
  it('ends when the last running attempt ends, not when the first does', async () => {
    const clock = createTestClock();
    const a = deferred<number>();
    const b = deferred<number>();
    const handle = startFlow(
      flow('two-running', (f) => {
        f.task('a', () => a.promise);
        f.task('b', () => b.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(handle.stats().states).toEqual({ running: 2 });
    const stopped = tracked(handle.shutdown({ graceMs: 10_000 }));
    await clock.flush();
    expect(stopped.done).toBe(false);
    a.resolve(1);
    await clock.flush();
    // `b` still runs (it ignores its preempt signal): the grace goes on.
    expect(stopped.done).toBe(false);
    b.resolve(2);
    await clock.flush();
    // Both ended well before the grace timer (the clock never moved).
    expect(stopped.done).toBe(true);
    expect(clock.now()).toBe(0);
    // Both ended well: nothing was left, so the run ended (success) within its shutdown.
    expect((await handle.done).state).toBe('success');
  });

  it('waits for a decorator hook settling a finished attempt as for a running attempt, and ends when it settles', async () => {
    const clock = createTestClock();
    const settled = deferred();
    const slowSettle = defineDecorator({ name: 'slowSettle', defaults: {}, hooks: { onAttemptSettled: () => settled.promise } })();
    const b = deferred<number>();
    const handle = startFlow(
      flow('settling-and-running', (f) => {
        f.task('a', () => 1, { decorators: [slowSettle] });
        f.task('b', () => b.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    // One attempt runs (b) and one hook settles (a's): two things in flight.
    expect(handle.taskInstance('b')!.state).toBe('running');
    const stopped = tracked(handle.shutdown({ graceMs: 10_000 }));
    await clock.flush();
    expect(stopped.done).toBe(false);
    b.resolve(2);
    await clock.flush();
    expect(stopped.done).toBe(false);
    settled.resolve();
    await clock.flush();
    expect(stopped.done).toBe(true);
    expect(clock.now()).toBe(0);
  });
});

describe('turns taken', () => {
  it('two attempts that settle together are handled in one turn', async () => {
    const clock = createTestClock();
    const shared = deferred<number>();
    const later = deferred<number>();
    const handle = startFlow(
      flow('settle-together', (f) => {
        f.task('a', () => shared.promise);
        f.task('b', () => shared.promise);
        f.task('c', () => later.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    expect(handle.stats().turns).toBe(1);
    shared.resolve(1);
    await clock.flush();
    // (The run goes on: `c` still runs, so every turn requested would count.)
    expect(handle.stats()).toMatchObject({ turns: 2, states: { success: 2, running: 1 } });
    later.resolve(3);
    expect((await handle.done).state).toBe('success');
    expect(handle.stats().turns).toBe(3);
  });

  it('a decorated attempt that settles outside a turn takes one turn, and its settling hook ending takes one more', async () => {
    const clock = createTestClock();
    const body = deferred<number>();
    const settled = deferred();
    const slowSettle = defineDecorator({ name: 'slowSettle', defaults: {}, hooks: { onAttemptSettled: () => settled.promise } })();
    const handle = startFlow(
      flow('one-hook', (f) => {
        f.task('a', () => body.promise, { decorators: [slowSettle] });
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    const started = handle.stats().turns;
    // The body ends outside a turn: one turn for it (its hook still settles), one when the hook ends.
    body.resolve(1);
    await clock.flush();
    const settling = handle.stats().turns;
    settled.resolve();
    expect((await handle.done).state).toBe('success');
    expect({ started, settling, ended: handle.stats().turns }).toEqual({ started: 1, settling: 2, ended: 3 });
  });

  it('a run that let go takes no turn when an abandoned attempt settles later', async () => {
    const clock = createTestClock();
    const body = deferred<number>();
    const handle = startFlow(
      flow('abandoned', (f) => {
        f.task('t', () => body.promise);
      }),
      { clock, ...quiet },
    );
    await clock.flush();
    const stopping = handle.shutdown({ graceMs: 1_000 });
    await clock.advance(1_000);
    expect((await stopping).state).toBe('running');
    const { turns } = handle.stats();
    body.resolve(1);
    await clock.flush();
    expect(handle.stats().turns).toBe(turns);
    expect(handle.snapshot().state).toBe('running');
  });
});

describe('a durable run whose lease may have expired', () => {
  it('starts nothing new until a renewal of its lease is stored, then starts what waited', async () => {
    const clock = createTestClock();
    const inner = memoryStore();
    let renewal: ReturnType<typeof deferred<void>> | undefined;
    let renewals = 0;
    // A store whose lease renewals wait while `renewal` is set.
    const store = new Proxy(inner, {
      get(target, key, receiver) {
        if (key === 'renewLease') {
          return async (...args: Parameters<Store['renewLease']>) => {
            renewals++;
            if (renewal !== undefined) await renewal.promise;
            return target.renewLease(...args);
          };
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const a = deferred<number>();
    const handle = startFlow(
      flow('lease-check', (f) => {
        const first = f.task('a', () => a.promise);
        f.task('b', () => 2, { after: [first] });
      }),
      { store, runId: 'r', clock, leaseTtl: 60_000, log: () => {} },
    );
    await clock.flush();
    expect(handle.taskInstance('a')!.state).toBe('running');
    // The process was away longer than the lease lives (no heartbeat ran on the run's clock).
    await clock.advance(60_001);
    renewal = deferred<void>();
    const before = renewals;
    a.resolve(1);
    await clock.flush();
    // `b` is ready and waits for a slot, but the run does not know it still holds the run.
    expect(handle.taskInstance('b')!.state).toBe('queued');
    expect(renewals).toBe(before + 1);
    renewal.resolve(undefined);
    expect((await handle.done).state).toBe('success');
    expect(handle.taskInstance('b')!.state).toBe('success');
  });
});

describe('a run taken over after an unclean stop (attempts start only once their START is stored)', () => {
  /**
   * A memory store shared by two runs of the same run id: the first one stops uncleanly (it is
   * simply dropped with `a` running), the second takes it over once the lease expired on its clock.
   * `hold()` makes the next commits wait until the returned function is called; `storedA` is `a`'s
   * record as stored after the last commit.
   */
  async function takenOver(body: () => number) {
    const inner = memoryStore();
    let held: Promise<void> | undefined;
    let refuse = false;
    let storedA: { interruptions: number; updatedAt: number } | undefined;
    const store = new Proxy(inner, {
      get(target, key, receiver) {
        if (key === 'commit') {
          return async (...args: Parameters<Store['commit']>) => {
            if (held !== undefined) await held;
            if (refuse) throw new Error('disk full');
            await target.commit(...args);
            storedA = (await target.loadRun('r'))?.instances.find((i) => i.key === 'a');
          };
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const shape = (a: () => number | Promise<number>) =>
      flow('careful', (f) => {
        const first = f.task('a', a);
        f.task('b', () => 2, { after: [first] });
      });
    const first = createTestClock();
    startFlow(shape(() => new Promise<number>(() => {})), { store, runId: 'r', clock: first, leaseTtl: 60_000, log: () => {} });
    await first.flush();
    const clock = createTestClock(120_000);
    const handle = startFlow(shape(body), { store, runId: 'r', clock, leaseTtl: 60_000, resume: true, log: () => {} });
    return {
      handle,
      clock,
      storedA: () => storedA,
      refuse: () => (refuse = true),
      hold: () => {
        let release!: () => void;
        held = new Promise<void>((resolve) => (release = resolve));
        return () => {
          held = undefined;
          release();
        };
      },
    };
  }

  it('the interrupted attempt’s body starts only after its new START is in the store', async () => {
    let atStart: { interruptions: number; updatedAt: number } | undefined;
    let calls = 0;
    const run = await takenOver(() => {
      calls++;
      atStart = run.storedA();
      return 1;
    });
    expect((await run.handle.done).state).toBe('success');
    expect(calls).toBe(1);
    expect(atStart).toMatchObject({ state: 'running', interruptions: 1, updatedAt: 120_000 });
  });

  it('an attempt cancelled before its START was stored never runs', async () => {
    let calls = 0;
    const run = await takenOver(() => {
      calls++;
      return 1;
    });
    let release: (() => void) | undefined;
    run.handle.subscribe((c) => {
      if (c.taskInstance.key === 'a' && c.state === 'running') release = run.hold();
    });
    await run.clock.flush();
    expect(run.handle.taskInstance('a')!.state).toBe('running');
    expect(release).toBeDefined();
    run.handle.cancel();
    release!();
    expect(await run.handle.done).toMatchObject({ state: 'failed', reason: 'cancelled' });
    await run.clock.flush();
    expect(calls).toBe(0);
  });

  it('an attempt whose START the store refused never runs, and the run stops on that failure', async () => {
    let calls = 0;
    const run = await takenOver(() => {
      calls++;
      return 1;
    });
    run.handle.subscribe((c) => {
      if (c.taskInstance.key === 'a' && c.state === 'running') run.refuse();
    });
    await expect(run.handle.done).rejects.toThrow('disk full');
    await run.clock.flush();
    expect(calls).toBe(0);
  });
});
