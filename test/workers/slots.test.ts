// A worker's slots: an attempt waiting for a ctx().call holds none; an answered one takes a slot
// back before new jobs are fetched (and does not take one a fetch under way keeps for its jobs),
// so no more than `concurrency` attempts run code at once.
import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/workers/slots.ts';

describe('Slots', () => {
  it('frees the slot of an attempt that waits, and gives it back when one is free', () => {
    let freed = 0;
    const slots = new Slots(1, () => freed++);
    const parent = slots.take();
    expect(slots.free()).toBe(0);
    parent.release();
    expect(slots.free()).toBe(1);
    expect(freed).toBe(1);
    let resumed = false;
    parent.takeBack(() => (resumed = true));
    expect(resumed).toBe(true);
    expect(slots.held()).toBe(1);
    parent.end();
    expect(slots.free()).toBe(1);
  });

  it('an answered attempt waits for a slot, ahead of new jobs, and gets the next one that frees', () => {
    const slots = new Slots(1, () => {});
    const parent = slots.take();
    parent.release();
    const child = slots.take();
    const order: string[] = [];
    parent.takeBack(() => order.push('parent goes on'));
    expect(order).toEqual([]);
    // The fetch loop takes nothing while an answered attempt waits.
    expect(slots.free()).toBe(0);
    child.end();
    expect(order).toEqual(['parent goes on']);
    expect(slots.held()).toBe(1);
    expect(slots.free()).toBe(0);
    parent.end();
    expect(slots.held()).toBe(0);
  });

  it('an attempt answered while a fetch is under way does not take the slot the fetched job will', () => {
    const slots = new Slots(1, () => {});
    const parent = slots.take();
    parent.release();
    slots.reserve(slots.free());
    const order: string[] = [];
    parent.takeBack(() => order.push('parent'));
    expect(order).toEqual([]);
    // The fetch brought the child: it runs in the kept slot; the parent goes on after it.
    const child = slots.take();
    slots.unreserve();
    expect(order).toEqual([]);
    child.end();
    expect(order).toEqual(['parent']);
    // A fetch that brings nothing hands its kept slot to the answered attempt.
    parent.release();
    slots.reserve(slots.free());
    parent.takeBack(() => order.push('parent again'));
    slots.unreserve();
    expect(order).toEqual(['parent', 'parent again']);
    expect(slots.held()).toBe(1);
  });

  it('an attempt that ends while it waits for a slot leaves the queue; end and release are idempotent', () => {
    const slots = new Slots(1, () => {});
    const parent = slots.take();
    parent.release();
    const other = slots.take();
    parent.takeBack(() => {
      throw new Error('not called: the attempt ended');
    });
    parent.end();
    parent.end();
    other.release();
    other.release();
    expect(slots.held()).toBe(0);
    expect(slots.free()).toBe(1);
  });
});
