// The Lifecycle on its own, with a test clock: what it does to an instance besides sending the
// event (its end time, releasing its actor), and the questions it answers without changing it.
import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../src/clock.ts';
import { IllegalTransitionError } from '../../src/errors.ts';
import { flow } from '../../src/index.ts';
import { TaskInstance } from '../../src/runtime/instances/taskInstance.ts';
import { ChangeBus } from '../../src/runtime/lifecycle/changeBus.ts';
import { Lifecycle } from '../../src/runtime/lifecycle/lifecycle.ts';

const task = flow('lifecycle', (f) => {
  f.task('extract', () => 1); // default retries: 0
}).tasks[0]!;

function setUp() {
  const clock = createTestClock(5_000);
  const bus = new ChangeBus(clock);
  const seen: string[] = [];
  bus.subscribe((ti, from, to) => seen.push(`${ti.key} ${from}->${to}`));
  return { clock, lifecycle: new Lifecycle(bus, clock), seen, instance: new TaskInstance({ key: 'extract', task }) };
}

describe('Lifecycle', () => {
  it('gives an instance an actor while it moves, and at its finished state its end time and no actor', async () => {
    const { clock, lifecycle, seen, instance } = setUp();
    lifecycle.apply(instance, { type: 'SCHEDULE' });
    lifecycle.apply(instance, { type: 'QUEUE' });
    lifecycle.apply(instance, { type: 'START', attempt: 1 });
    expect(instance.actor).toBeDefined();
    expect(instance.endedAt).toBeUndefined();
    await clock.advance(250);
    expect(lifecycle.apply(instance, { type: 'SUCCEED' })).toBe('success');
    expect(instance.actor).toBeUndefined();
    expect(instance.endedAt).toBe(5_250);
    expect(seen).toEqual(['extract none->scheduled', 'extract scheduled->queued', 'extract queued->running', 'extract running->success']);
    expect(lifecycle.actorsCreated).toBe(1);
  });

  it('refuses an illegal event naming the instance, and changes and publishes nothing', () => {
    const { lifecycle, seen, instance } = setUp();
    lifecycle.apply(instance, { type: 'SCHEDULE' });
    for (const refuse of [() => lifecycle.apply(instance, { type: 'SUCCEED' }), () => lifecycle.assertLegal(instance, { type: 'SUCCEED' })]) {
      expect(refuse).toThrow(IllegalTransitionError);
      expect(refuse).toThrow("task instance 'extract': event SUCCEED is not legal in state 'scheduled'");
    }
    expect(instance.state).toBe('scheduled');
    expect(seen).toEqual(['extract none->scheduled']);
    expect(() => lifecycle.assertLegal(instance, { type: 'QUEUE' })).not.toThrow();
  });

  it('says where an event would lead without applying it: undefined when illegal, the same state for a self-transition', () => {
    const { lifecycle, instance } = setUp();
    lifecycle.apply(instance, { type: 'SCHEDULE' });
    expect(lifecycle.wouldLeadTo(instance, { type: 'QUEUE' })).toBe('queued');
    expect(lifecycle.wouldLeadTo(instance, { type: 'SUCCEED' })).toBeUndefined();
    expect(lifecycle.can(instance, { type: 'SUCCEED' })).toBe(false);
    lifecycle.apply(instance, { type: 'QUEUE' });
    lifecycle.apply(instance, { type: 'START', attempt: 1 });
    // The same attempt's START again while running is accepted and changes nothing.
    expect(lifecycle.wouldLeadTo(instance, { type: 'START', attempt: 1 })).toBe('running');
    expect(instance.state).toBe('running');
  });
});
