// KeptValues on its own: what a run (or a worker) keeps of the values passed between tasks, with
// and without a store. test/values/keptValues.test.ts checks the same through whole runs; this
// pins the parts a run rarely shows: the copy of a run's input without a store (arrays, Map, Set,
// shared and circular references, null prototypes, an own `__proto__` key, class instances and
// hostile objects), the durable input, and the storable part of an error that cannot be stored.
import { describe, expect, it } from 'vitest';
import { UnstorableValueError } from '../../src/errors.ts';
import { KeptValues } from '../../src/runtime/values/keptValues.ts';
import { StoreSerializationError } from '../../src/stores/index.ts';

const memory = new KeptValues(false);
const durable = new KeptValues(true);

describe('KeptValues.input without a store', () => {
  it('passes primitives and functions as they are', () => {
    const fn = () => 1;
    for (const value of [undefined, null, 0, -0, Number.NaN, 'text', true, 10n]) expect(memory.input(value)).toBe(value);
    expect(memory.input(fn)).toBe(fn);
    expect(Object.isFrozen(fn)).toBe(false);
  });

  it('copies arrays, Maps, Sets and plain objects (frozen), leaving the caller’s value unfrozen and unchanged', () => {
    const caller = { list: [1, { n: 1 }], byId: new Map([['x', { n: 2 }]]), tags: new Set(['a']), nested: { deep: { n: 3 } } };
    const input = memory.input(caller) as typeof caller;
    expect(input).toEqual(caller);
    expect(input).not.toBe(caller);
    expect(input.list).not.toBe(caller.list);
    expect(input.list[1]).not.toBe(caller.list[1]);
    expect(input.byId).toBeInstanceOf(Map);
    expect(input.byId).not.toBe(caller.byId);
    expect(input.byId.get('x')).not.toBe(caller.byId.get('x'));
    expect(input.tags).toBeInstanceOf(Set);
    expect(input.tags).not.toBe(caller.tags);
    expect(input.nested.deep).not.toBe(caller.nested.deep);
    expect(Object.isFrozen(input)).toBe(true);
    expect(Object.isFrozen(input.list)).toBe(true);
    expect(Object.isFrozen(input.byId.get('x'))).toBe(true);
    expect(Object.isFrozen(input.nested.deep)).toBe(true);
    for (const part of [caller, caller.list, caller.list[1], caller.byId, caller.byId.get('x'), caller.tags, caller.nested.deep]) {
      expect(Object.isFrozen(part)).toBe(false);
    }
    caller.list.push(2);
    caller.byId.set('y', { n: 4 });
    caller.tags.add('b');
    expect(input.list).toHaveLength(2);
    expect([...input.byId.keys()]).toEqual(['x']);
    expect([...input.tags]).toEqual(['a']);
  });

  it('keeps shared and circular references shared and circular in the copy', () => {
    const shared = { n: 1 };
    const list: unknown[] = [shared];
    const byId = new Map<string, unknown>([['s', shared]]);
    const tags = new Set<unknown>([shared]);
    const caller: Record<string, unknown> = { a: shared, b: shared, list, byId, tags };
    caller['self'] = caller;
    list.push(list);
    byId.set('map', byId);
    tags.add(tags);
    const input = memory.input(caller) as Record<string, any>;
    expect(input['a']).not.toBe(shared);
    expect(input['b']).toBe(input['a']);
    expect(input['self']).toBe(input);
    expect(input['list'][0]).toBe(input['a']);
    expect(input['list'][1]).toBe(input['list']);
    expect(input['byId'].get('s')).toBe(input['a']);
    expect(input['byId'].get('map')).toBe(input['byId']);
    expect([...input['tags']][0]).toBe(input['a']);
    expect([...input['tags']][1]).toBe(input['tags']);
    expect(input['list']).not.toBe(list);
    expect(input['byId']).not.toBe(byId);
    expect(input['tags']).not.toBe(tags);
  });

  it('shares instances of classes (a client object keeps working) and copies objects without a prototype', () => {
    class Client {
      calls = 0;
    }
    const client = new Client();
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { n: 1 });
    const input = memory.input({ client, bare, at: new Date(0) }) as { client: Client; bare: Record<string, unknown>; at: Date };
    expect(input.client).toBe(client);
    expect(Object.isFrozen(client)).toBe(false);
    expect(input.bare).not.toBe(bare);
    expect(Object.getPrototypeOf(input.bare)).toBeNull();
    expect({ ...input.bare }).toEqual({ n: 1 });
    expect(Object.isFrozen(bare)).toBe(false);
    expect(input.at.getTime()).toBe(0);
  });

  it('keeps an own `__proto__` key a key of the copy, without setting its prototype', () => {
    const caller = JSON.parse('{"a":1,"__proto__":{"polluted":true}}') as Record<string, unknown>;
    const input = memory.input(caller) as Record<string, unknown>;
    expect(Object.getPrototypeOf(input)).toBe(Object.prototype);
    expect(Object.keys(input)).toEqual(['a', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(input, '__proto__')?.value).toEqual({ polluted: true });
    expect((input as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('passes on, as it is, an object that throws when copied', () => {
    const hostile = new Proxy({}, {
      ownKeys() {
        throw new Error('trap: ownKeys');
      },
    });
    const input = memory.input({ hostile }) as { hostile: object };
    expect(input.hostile).toBe(hostile);
  });
});

describe('KeptValues.input with a store', () => {
  it('is the value as stored: a copy, frozen, a class instance as plain data, the caller’s value unfrozen', () => {
    class Point {
      readonly x: number;
      constructor(x: number) {
        this.x = x;
      }
    }
    const caller = { point: new Point(2), list: [1], byId: new Map([['x', 1]]) };
    const input = durable.input(caller) as Record<string, any>;
    expect(input).toEqual({ point: { x: 2 }, list: [1], byId: new Map([['x', 1]]) });
    expect(input['point']).not.toBeInstanceOf(Point);
    expect(input['list']).not.toBe(caller.list);
    expect(Object.isFrozen(input)).toBe(true);
    expect(Object.isFrozen(input['list'])).toBe(true);
    expect(Object.isFrozen(caller)).toBe(false);
    expect(Object.isFrozen(caller.list)).toBe(false);
  });

  it('passes primitives as they are and refuses a function or a symbol, naming it', () => {
    for (const value of [undefined, null, 0, 'text', false, 10n]) expect(durable.input(value)).toBe(value);
    expect(() => durable.input(function named() {})).toThrow(StoreSerializationError);
    expect(() => durable.input(Symbol('s'))).toThrow(StoreSerializationError);
    expect(() => durable.input({ cb: () => 1 })).toThrow(/a function \(at \$\.cb\)/);
  });
});

describe('KeptValues.keep', () => {
  it('without a store: the value itself, deeply frozen; primitives and functions as they are', () => {
    const value = { list: [{ n: 1 }] };
    const kept = memory.keep(value);
    expect(kept).toEqual({ ok: true, value });
    expect(kept.ok && kept.value).toBe(value);
    expect(Object.isFrozen(value.list[0])).toBe(true);
    const fn = () => 1;
    const sym = Symbol('s');
    expect(memory.keep(fn)).toEqual({ ok: true, value: fn });
    expect(memory.keep(sym)).toEqual({ ok: true, value: sym });
    expect(memory.keep(3)).toEqual({ ok: true, value: 3 });
    expect(memory.keep(undefined)).toEqual({ ok: true, value: undefined });
  });

  it('with a store: a frozen copy as stored; primitives as they are', () => {
    const value = { at: new Date(5), list: [1] };
    const kept = durable.keep(value);
    expect(kept.ok).toBe(true);
    const copy = (kept as { value: typeof value }).value;
    expect(copy).toEqual(value);
    expect(copy).not.toBe(value);
    expect(Object.isFrozen(copy)).toBe(true);
    expect(Object.isFrozen(value)).toBe(false);
    for (const primitive of [null, 0, -0, Number.NaN, 'text', true, 10n]) expect(durable.keep(primitive)).toEqual({ ok: true, value: primitive });
    expect(durable.keep(undefined)).toEqual({ ok: true, value: undefined });
  });

  it('with a store: refuses a function, a symbol, and a value holding one, with the store’s error naming the path', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [function named() {}, '$', /^a function cannot be stored/],
      [Symbol('here'), '$', /^a symbol \(here\) cannot be stored/],
      [{ list: [1, Symbol('s')] }, '$.list[1]', /^a symbol/],
    ];
    for (const [value, path, problem] of cases) {
      const kept = durable.keep(value);
      expect(kept.ok).toBe(false);
      const error = (kept as { error: StoreSerializationError }).error;
      expect(error).toBeInstanceOf(StoreSerializationError);
      expect(error.path).toBe(path);
      expect(error.problem).toMatch(problem);
    }
  });

  it('result(): the store’s refusal becomes the attempt’s UnstorableValueError naming the task instance', () => {
    expect(durable.result('t[2]', { n: 1 })).toEqual({ ok: true, value: { n: 1 } });
    const refused = durable.result('t[2]', { cb: () => 1 });
    expect(refused.ok).toBe(false);
    const error = (refused as { error: UnstorableValueError }).error;
    expect(error).toBeInstanceOf(UnstorableValueError);
    expect(error.path).toBe('$.cb');
    expect(error.message).toMatch(/^task instance 't\[2\]' returned a value that cannot be stored: \$\.cb: a function cannot be stored/);
  });
});

describe('KeptValues.error', () => {
  it('returns the error itself without a store, or with one when it can be stored', () => {
    const unstorable = Object.assign(new Error('boom'), { cb: () => 1 });
    expect(memory.error(unstorable)).toBe(unstorable);
    const storable = Object.assign(new Error('boom', { cause: new Error('inner') }), { code: 'E1' });
    expect(durable.error(storable)).toBe(storable);
  });

  it('with a store, replaces one that cannot be stored by an Error with its name, message, stack and the parts that can be', () => {
    class HttpError extends Error {
      override name = 'HttpError';
    }
    const cause = new Error('inner');
    const original = Object.assign(new HttpError('boom', { cause }), { code: 'E1', details: { n: 1 }, cb: () => 1, sym: Symbol('s') });
    original.stack = 'HttpError: boom\n    at here';
    const kept = durable.error(original);
    expect(kept).not.toBe(original);
    expect(kept).toBeInstanceOf(Error);
    expect(kept.name).toBe('HttpError');
    expect(kept.message).toBe('boom');
    expect(kept.stack).toBe('HttpError: boom\n    at here');
    expect(kept.cause).toBe(cause);
    expect(Object.keys(kept).sort()).toEqual(['cause', 'code', 'details', 'name']);
    expect((kept as unknown as Record<string, unknown>)['code']).toBe('E1');
    expect((kept as unknown as Record<string, unknown>)['details']).toEqual({ n: 1 });
    expect(Object.keys(kept)).not.toContain('cb');
    expect(() => durable.error(kept)).not.toThrow();
    expect(durable.error(kept)).toBe(kept);
  });

  it('drops a cause that cannot be stored and keeps an own `message`-like key only once', () => {
    const original = new Error('boom', { cause: { cb: () => 1 } });
    const kept = durable.error(original);
    expect(kept).not.toBe(original);
    expect(kept.message).toBe('boom');
    expect('cause' in kept).toBe(false);
    expect(Object.keys(kept)).not.toContain('message');
    expect(Object.keys(kept)).not.toContain('cause');
  });

  it('names the error when its message, name and stack cannot be read or are not strings (own enumerable keys or not)', () => {
    const hostile = new Error('hidden');
    Object.defineProperty(hostile, 'message', {
      get() {
        throw new Error('no message');
      },
      enumerable: true,
    });
    Object.defineProperty(hostile, 'name', { value: 42, enumerable: true });
    Object.defineProperty(hostile, 'stack', { value: { not: 'a string' }, enumerable: true });
    Object.defineProperty(hostile, 'cause', { value: undefined, enumerable: true });
    Object.defineProperty(hostile, 'cb', { value: () => 1, enumerable: true });
    const kept = durable.error(hostile);
    expect(kept).not.toBe(hostile);
    expect(kept.name).toBe('Error');
    // (describeValue of an error whose message cannot be read.)
    expect(kept.message).toBe('[object Error]');
    expect(typeof kept.stack).toBe('string');
    expect(kept.stack).not.toContain('not');
    expect('cause' in kept).toBe(false);
    expect(Object.keys(kept)).toEqual([]);
  });

  it('keeps what it can of an error whose own keys cannot be listed', () => {
    const proxy = new Proxy(new Error('boom'), {
      ownKeys() {
        throw new Error('trap: ownKeys');
      },
    });
    const kept = durable.error(proxy);
    expect(kept).not.toBe(proxy);
    expect(kept.message).toBe('boom');
    expect(kept.name).toBe('Error');
    expect(Object.keys(kept)).toEqual(['name']);
  });
});
