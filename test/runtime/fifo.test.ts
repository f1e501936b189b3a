import { describe, expect, it } from 'vitest';
import { Fifo } from '../../src/runtime/scheduling/fifo.ts';

describe('Fifo', () => {
  it('starts empty: length 0, peek and shift give undefined, drain gives nothing', () => {
    const fifo = new Fifo<number>();
    expect(fifo.length).toBe(0);
    expect(fifo.peek()).toBeUndefined();
    expect(fifo.shift()).toBeUndefined();
    expect(fifo.drain()).toEqual([]);
  });

  it('shifts in push order; length counts what is left after shifts', () => {
    const fifo = new Fifo<string>();
    for (const item of ['a', 'b', 'c']) fifo.push(item);
    expect(fifo.length).toBe(3);
    expect(fifo.peek()).toBe('a');
    expect(fifo.shift()).toBe('a');
    expect(fifo.length).toBe(2);
    expect(fifo.peek()).toBe('b');
    expect(fifo.shift()).toBe('b');
    expect(fifo.length).toBe(1);
    expect(fifo.shift()).toBe('c');
    expect(fifo.length).toBe(0);
    expect(fifo.peek()).toBeUndefined();
    expect(fifo.shift()).toBeUndefined();
  });

  it('is reusable after being read to the end: later pushes come out, in order, with the right length', () => {
    const fifo = new Fifo<number>();
    fifo.push(1);
    expect(fifo.shift()).toBe(1);
    fifo.push(2);
    fifo.push(3);
    expect(fifo.length).toBe(2);
    expect(fifo.peek()).toBe(2);
    expect(fifo.shift()).toBe(2);
    expect(fifo.shift()).toBe(3);
    expect(fifo.length).toBe(0);
  });

  it('peek on a queue read to its end but refilled does not return a stale item', () => {
    const fifo = new Fifo<number | undefined>();
    fifo.push(1);
    fifo.push(2);
    fifo.shift();
    fifo.shift();
    expect(fifo.peek()).toBeUndefined();
  });

  it('drain returns what is left (after shifts) and empties the queue; items pushed afterwards stay queued', () => {
    const fifo = new Fifo<string>();
    for (const item of ['a', 'b', 'c']) fifo.push(item);
    expect(fifo.drain()).toEqual(['a', 'b', 'c']);
    expect(fifo.length).toBe(0);
    for (const item of ['d', 'e', 'f']) fifo.push(item);
    expect(fifo.shift()).toBe('d');
    expect(fifo.drain()).toEqual(['e', 'f']);
    expect(fifo.length).toBe(0);
    expect(fifo.peek()).toBeUndefined();
    fifo.push('g');
    expect(fifo.length).toBe(1);
    expect(fifo.shift()).toBe('g');
  });
});
