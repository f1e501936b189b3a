// Notifications on their own: who hears a transition (handle.subscribe observers, the listeners'
// dispatcher), that a run with nobody to tell never builds a public change record, and that one
// observer throwing neither stops the others nor the run (it is logged).
import { describe, expect, it } from 'vitest';
import { ChangeBus } from '../../src/runtime/lifecycle/changeBus.ts';
import { Notifications } from '../../src/runtime/subscribers/notifications.ts';
import type { ListenerDispatcher } from '../../src/listeners/dispatch.ts';
import type { TaskInstance } from '../../src/runtime/instances/taskInstance.ts';
import type { TaskInstanceChange } from '../../src/index.ts';

const instance = (key: string) => ({ key, task: { index: 0 }, toRecord: () => ({ key }) }) as unknown as TaskInstance;

/** A bus whose clock counts reads: a change record is built (and its time read) only when someone asks for it. */
function countingBus() {
  let built = 0;
  const bus = new ChangeBus({ now: () => 1000 + built++ });
  const publish = (key: string) => bus.publish(instance(key), 'none', 'scheduled', { type: 'SCHEDULE' }, undefined);
  return { bus, publish, built: () => built };
}

/** A dispatcher that records the hooks it is asked to emit. */
function fakeDispatcher() {
  const hooks: string[] = [];
  const dispatcher = { emit: (hook: string, args: { taskInstance: { key: string } }) => hooks.push(`${hook} ${args.taskInstance.key}`) };
  return { dispatcher: dispatcher as unknown as ListenerDispatcher, hooks };
}

describe('Notifications', () => {
  it('without observers or listeners it does not listen: no change record is built', () => {
    const { bus, publish, built } = countingBus();
    new Notifications(bus, undefined, () => {});
    publish('a');
    expect(built()).toBe(0);
  });

  it('an observer hears each change; once it unsubscribed, nobody listens any more', () => {
    const { bus, publish, built } = countingBus();
    const notifications = new Notifications(bus, undefined, () => {});
    const seen: TaskInstanceChange[] = [];
    const off = notifications.subscribe((c) => seen.push(c));
    publish('a');
    expect(seen.map((c) => [c.taskInstance.key, c.previousState, c.state])).toEqual([['a', 'none', 'scheduled']]);
    expect(built()).toBe(1);
    off();
    publish('b');
    expect(seen).toHaveLength(1);
    expect(built()).toBe(1);
    // Unsubscribing twice is harmless.
    expect(() => off()).not.toThrow();
    // A new observer subscribes the bus again.
    notifications.subscribe((c) => seen.push(c));
    publish('c');
    expect(seen.map((c) => c.taskInstance.key)).toEqual(['a', 'c']);
  });

  it('unsubscribing one observer leaves the others subscribed', () => {
    const { bus, publish } = countingBus();
    const notifications = new Notifications(bus, undefined, () => {});
    const calls: string[] = [];
    const offFirst = notifications.subscribe((c) => calls.push(`first ${c.taskInstance.key}`));
    notifications.subscribe((c) => calls.push(`second ${c.taskInstance.key}`));
    publish('a');
    offFirst();
    publish('b');
    expect(calls).toEqual(['first a', 'second a', 'second b']);
  });

  it('the listeners hear every change, before any observer subscribes and after the last one left', () => {
    const { bus, publish } = countingBus();
    const { dispatcher, hooks } = fakeDispatcher();
    const notifications = new Notifications(bus, dispatcher, () => {});
    publish('a');
    const seen: string[] = [];
    const off = notifications.subscribe((c) => seen.push(c.taskInstance.key));
    publish('b');
    off();
    publish('c');
    expect(hooks).toEqual(['onTaskInstanceStateChange a', 'onTaskInstanceStateChange b', 'onTaskInstanceStateChange c']);
    expect(seen).toEqual(['b']);
  });

  it('an observer that throws is logged with its stack; the next observers still hear the change', () => {
    const { bus, publish } = countingBus();
    const lines: string[] = [];
    const notifications = new Notifications(bus, undefined, (line) => lines.push(line));
    const seen: string[] = [];
    notifications.subscribe(() => {
      throw new Error('observer broke');
    });
    notifications.subscribe(() => {
      throw 'a plain string';
    });
    notifications.subscribe((c) => seen.push(c.taskInstance.key));
    publish('a');
    expect(seen).toEqual(['a']);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^taskmachine: a run observer threw: Error: observer broke\n\s+at /);
    expect(lines[1]).toBe('taskmachine: a run observer threw: a plain string');
  });
});
