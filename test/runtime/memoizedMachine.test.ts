import fc from 'fast-check';
import { assign, createActor, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { taskInstanceMachine, type TaskInstanceEvent } from '../../machines/index.ts';
import { memoizedMachine, taskInstanceLogic } from '../../src/runtime/lifecycle/memoizedMachine.ts';
import { flow, runFlow } from '../../src/index.ts';
import { taskInstanceEvents } from '../../src/testing/index.ts';

/** The machine's whole observable answer after an event: state, context, status, what it accepts. */
function observe(snapshot: ReturnType<ReturnType<typeof createActor<typeof taskInstanceMachine>>['getSnapshot']>) {
  return {
    value: snapshot.value,
    context: { ...snapshot.context },
    status: snapshot.status,
    tags: [...snapshot.tags].sort(),
    accepts: taskInstanceEvents(snapshot, { wrongAttempts: true }).map((event) => snapshot.can(event)),
  };
}

const eventArb: fc.Arbitrary<(attempt: number) => TaskInstanceEvent> = fc.oneof(
  fc.constantFrom(...taskInstanceEvents({ context: { attempt: 0 } }).filter((e) => e.type !== 'START')).map(
    (event) => () => event,
  ),
  fc.integer({ min: -1, max: 1 }).map((offset) => (attempt: number) => ({ type: 'START' as const, attempt: attempt + offset })),
);

describe('memoizedMachine(taskInstanceMachine)', () => {
  it('answers every event sequence exactly as the machine does (fast-check, random retries)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.array(eventArb, { maxLength: 40 }), (retries, events) => {
        const plain = createActor(taskInstanceMachine, { input: { retries } }).start();
        const memo = createActor(taskInstanceLogic, { input: { retries } }).start();
        expect(observe(memo.getSnapshot())).toEqual(observe(plain.getSnapshot()));
        for (const make of events) {
          const event = make(plain.getSnapshot().context.attempt);
          plain.send(event);
          memo.send(event);
          expect(observe(memo.getSnapshot())).toEqual(observe(plain.getSnapshot()));
          // The memoized `can` (what the runtime asks before every event) agrees too.
          const candidates = taskInstanceEvents(plain.getSnapshot(), { wrongAttempts: true });
          expect(candidates.map((e) => taskInstanceLogic.can(memo.getSnapshot(), e))).toEqual(
            candidates.map((e) => plain.getSnapshot().can(e)),
          );
        }
        plain.stop();
        memo.stop();
        expect(memo.getSnapshot().status).toBe('stopped');
      }),
      { numRuns: 400, seed: 20261122 },
    );
  });

  it('shares snapshots: instances on the same path hold the very same snapshot objects', () => {
    const logic = memoizedMachine(taskInstanceMachine, {}, ['acknowledgeDuplicateStart']);
    const path: TaskInstanceEvent[] = [{ type: 'SCHEDULE' }, { type: 'QUEUE' }, { type: 'START', attempt: 1 }, { type: 'SUCCEED' }];
    const first = createActor(logic, { input: { retries: 1 } }).start();
    const second = createActor(logic, { input: { retries: 1 } }).start();
    expect(second.getSnapshot()).toBe(first.getSnapshot());
    for (const event of path) {
      first.send(event);
      second.send(event);
      expect(second.getSnapshot()).toBe(first.getSnapshot());
    }
    expect(first.getSnapshot().value).toBe('success');
    expect(first.getSnapshot().machine).toBe(taskInstanceMachine);
    // The first actor computed five snapshots (initial + four events); the second asked the memo.
    expect(logic.memoStats()).toEqual({ snapshots: 5, hits: 5, misses: 5 });
  });

  it('keys on the input and on event payloads: different retries or attempts get different answers', () => {
    const logic = memoizedMachine(taskInstanceMachine, {}, ['acknowledgeDuplicateStart']);
    const none = createActor(logic, { input: { retries: 0 } }).start();
    const once = createActor(logic, { input: { retries: 1 } }).start();
    expect(none.getSnapshot().context.maxAttempts).toBe(1);
    expect(once.getSnapshot().context.maxAttempts).toBe(2);
    for (const actor of [none, once]) {
      actor.send({ type: 'SCHEDULE' });
      actor.send({ type: 'QUEUE' });
      actor.send({ type: 'START', attempt: 2 }); // not the current attempt: refused
      expect(actor.getSnapshot().value).toBe('queued');
      actor.send({ type: 'START', attempt: 1 });
      actor.send({ type: 'FAIL' });
    }
    expect(none.getSnapshot().value).toBe('failed');
    expect(once.getSnapshot().value).toBe('up_for_retry');
  });

  it('shares a snapshot restored from a record with the equal one it already knows', () => {
    const logic = memoizedMachine(taskInstanceMachine, {}, ['acknowledgeDuplicateStart']);
    const live = createActor(logic, { input: { retries: 2 } }).start();
    live.send({ type: 'SCHEDULE' });
    live.send({ type: 'QUEUE' });
    const { value, context } = live.getSnapshot();
    const restored = createActor(logic, {
      snapshot: taskInstanceMachine.resolveState({ value, context: { ...context } }),
    }).start();
    expect(restored.getSnapshot()).toBe(live.getSnapshot());
    restored.send({ type: 'START', attempt: 1 });
    expect(restored.getSnapshot().value).toBe('running');
  });

  it('stays correct past maxSnapshots: it starts over, never holds more, and keeps remembering', () => {
    const logic = memoizedMachine(taskInstanceMachine, { maxSnapshots: 3 }, ['acknowledgeDuplicateStart']);
    const plain = createActor(taskInstanceMachine, { input: { retries: 1 } }).start();
    const memo = createActor(logic, { input: { retries: 1 } }).start();
    const events: TaskInstanceEvent[] = [
      { type: 'SCHEDULE' },
      { type: 'QUEUE' },
      { type: 'START', attempt: 1 },
      { type: 'FAIL' },
      { type: 'RETRY' },
      { type: 'QUEUE' },
      { type: 'START', attempt: 2 },
      { type: 'SUCCEED' },
    ];
    for (const event of events) {
      plain.send(event);
      memo.send(event);
      expect(observe(memo.getSnapshot())).toEqual(observe(plain.getSnapshot()));
    }
    expect(memo.getSnapshot().value).toBe('success');
    expect(logic.memoStats().snapshots).toBeLessThanOrEqual(3);
    // After starting over, configurations in use are remembered again: a short path (three
    // snapshots) walked twice is answered from the memo the second time.
    const short: TaskInstanceEvent[] = [{ type: 'SCHEDULE' }, { type: 'QUEUE' }];
    const first = createActor(logic, { input: { retries: 1 } }).start();
    for (const event of short) first.send(event);
    const hitsBefore = logic.memoStats().hits;
    const second = createActor(logic, { input: { retries: 1 } }).start();
    for (const event of short) second.send(event);
    expect(second.getSnapshot()).toBe(first.getSnapshot());
    expect(logic.memoStats().hits - hitsBefore).toBe(3);
    expect(logic.memoStats().snapshots).toBeLessThanOrEqual(3);
  });

  it('does not memoize events that carry objects (their identity could matter to a guard)', () => {
    const logic = memoizedMachine(taskInstanceMachine, {}, ['acknowledgeDuplicateStart']);
    const actor = createActor(logic).start();
    const before = logic.memoStats();
    actor.send({ type: 'SCHEDULE', detail: { why: 'object payload' } } as unknown as TaskInstanceEvent);
    expect(actor.getSnapshot().value).toBe('scheduled');
    expect(logic.memoStats().hits).toBe(before.hits);
    expect(logic.memoStats().misses).toBe(before.misses);
  });

  // Regression guard: memoizing is sound only while every action is an assign or a no-op. A new
  // action with effects on the task-instance machine must fail here, not be skipped silently.
  it('refuses a machine with an action that is not an assign, naming it', () => {
    expect(() => memoizedMachine(taskInstanceMachine)).toThrow(/action 'acknowledgeDuplicateStart' of machine 'taskInstance' is not an assign/);
    let effects = 0;
    const effectful = setup({
      actions: { bump: assign({}), notify: () => void effects++ },
    }).createMachine({ id: 'effectful', initial: 'a', states: { a: { on: { GO: { target: 'a', actions: ['bump', 'notify'] } } } } });
    expect(() => memoizedMachine(effectful)).toThrow(/action 'notify' of machine 'effectful' is not an assign; .*list it as a no-op/);
    expect(effects).toBe(0);
  });

  it('is what the runtime runs task instances on', async () => {
    const before = taskInstanceLogic.memoStats().hits;
    const run = await runFlow(
      flow('memo-used', (f) => {
        for (let i = 0; i < 20; i++) f.task(`t${i}`, () => i);
      }),
    );
    expect(run.state).toBe('success');
    // 20 instances × (initial snapshot + SCHEDULE + QUEUE + START + SUCCEED + stop): nearly all hits.
    expect(taskInstanceLogic.memoStats().hits - before).toBeGreaterThanOrEqual(19 * 6);
  });
});
