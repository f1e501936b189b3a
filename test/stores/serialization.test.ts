import fc from 'fast-check';
import SuperJSON from 'superjson';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { TaskInstanceContext } from '../../machines/index.ts';
import type { TaskInstance } from '../../src/runtime/instances/taskInstance.ts';
import type { FailureKind } from '../../src/records.ts';
import {
  deserializeValue,
  inputFingerprint,
  serializeValue,
  StoreError,
  StoreSerializationError,
  type StoredFailureKind,
  type TaskInstanceWrite,
} from '../../src/stores/index.ts';

const roundTrip = <T>(value: T): T => deserializeValue<T>(serializeValue(value));

function thrown(fn: () => unknown): StoreSerializationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StoreSerializationError);
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreSerializationError;
  }
  throw new Error('expected a StoreSerializationError');
}

describe('serializeValue / deserializeValue', () => {
  // Scalars skip the walk (most task results are undefined or a scalar): their text must be the one
  // superjson writes, byte for byte, or values stored before would read back differently.
  it('writes undefined and scalars exactly as superjson does, and reads them back', () => {
    const reference = new SuperJSON();
    fc.assert(
      fc.property(fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.string(), fc.string({ unit: 'binary' }), fc.double(), fc.integer()), (value) => {
        const text = serializeValue(value);
        expect(text).toBe(JSON.stringify(reference.serialize(value as never)));
        expect(Object.is(deserializeValue(text), value)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  // Plain data (attempt payloads, most results) skips the walks too: same rule, byte for byte.
  it('writes plain data exactly as superjson does, and reads it back equal', () => {
    const reference = new SuperJSON();
    fc.assert(
      // (Keys serializeValue refuses are left out: they throw, plain or not — tested below.)
      fc.property(fc.jsonValue().filter((value) => !/"(__proto__|constructor|prototype)":/.test(JSON.stringify(value))), (value) => {
        const text = serializeValue(value);
        expect(text).toBe(JSON.stringify(reference.serialize(value as never)));
        expect(deserializeValue(text)).toStrictEqual(value);
      }),
      { numRuns: 1_000 },
    );
  });

  it('leaves to superjson what plain-data text would get wrong: shared objects, -0, holes, undefined, accessors, prototypes', () => {
    const reference = new SuperJSON();
    const shared = { a: 1 };
    const withGetter = Object.defineProperty({}, 'n', { get: () => 2, enumerable: true });
    const holes: unknown[] = [1];
    holes[2] = 3;
    const nullPrototype = Object.assign(Object.create(null) as object, { a: 1 });
    class Point {
      readonly x: number;
      constructor(x: number) {
        this.x = x;
      }
    }
    // toJSON (own and hidden, or on an array) would make JSON.stringify write something else.
    const hiddenToJson = Object.defineProperty({ a: 1 }, 'toJSON', { value: () => 'x', enumerable: false });
    const arrayToJson = Object.assign([1, 2], { toJSON: () => 'x' });
    // A Proxy may answer the walk and JSON.stringify differently.
    const dateInDisguise = new Proxy({ when: 1 }, { get: (target, key) => (key === 'when' ? new Date(7) : Reflect.get(target, key)) });
    for (const value of [{ x: shared, y: shared }, [shared, [shared]], { z: -0 }, [Number.NaN], holes, { u: undefined }, [undefined], withGetter, nullPrototype, { p: new Point(1) }, { d: new Date(5) }, { m: new Map([[1, 2]]) }, hiddenToJson, arrayToJson, { inner: dateInDisguise }]) {
      expect(serializeValue(value)).toBe(JSON.stringify(reference.serialize(value as never)));
    }
    // A Proxy whose get trap throws is refused with its path, like before.
    const throwing = new Proxy({ a: 1 }, { get: () => { throw new Error('trap: get'); } });
    expect(() => serializeValue({ p: throwing })).toThrow(StoreSerializationError);
    // Shared objects stay shared, -0 stays -0, a hole stays a hole (superjson's meta).
    const back = deserializeValue<{ x: object; y: object }>(serializeValue({ x: shared, y: shared }));
    expect(back.x).toBe(back.y);
    expect(Object.is(deserializeValue<{ z: number }>(serializeValue({ z: -0 })).z, -0)).toBe(true);
    // A forbidden key or a function still fails with its path, not as plain data.
    expect(() => serializeValue(JSON.parse('{"a":{"__proto__":{}}}'))).toThrow(/__proto__/);
    expect(() => serializeValue({ a: [1, () => 1] })).toThrow(/a function \(at \$\.a\[1\]\)/);
  });

  it('round-trips primitives and the superjson types', () => {
    for (const value of [
      undefined,
      null,
      true,
      0,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      'text',
      12345678901234567890n,
      new Date('2026-11-22T03:00:00.000Z'),
      new Map<unknown, unknown>([[{ k: 1 }, new Set([1n, 'a'])]]),
      new Set([new Date(1), undefined]),
      /ab+c/gi,
      new URL('https://example.com/x?y=1'),
      new Uint8Array([1, 2, 3]),
      [1, undefined, [new Date(2)]],
      { a: { b: { c: undefined, d: [new Map([['x', 1n]])] } } },
    ]) {
      expect(roundTrip(value)).toEqual(value);
    }
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect('c' in (roundTrip({ c: undefined }) as object)).toBe(true);
  });

  it('round-trips Buffers as Buffers', () => {
    const back = roundTrip({ bytes: Buffer.from([0, 255, 10]) }).bytes;
    expect(Buffer.isBuffer(back)).toBe(true);
    expect([...back]).toEqual([0, 255, 10]);
  });

  it('keeps shared and circular references', () => {
    const shared = { n: 1 };
    const value: { a: object; b: object; self?: unknown } = { a: shared, b: shared };
    value.self = value;
    const back = roundTrip(value);
    expect(back.a).toBe(back.b);
    expect(back.self).toBe(back);
  });

  it('keeps an Error: name, message, stack, cause chain and own properties; built-in classes stay themselves', () => {
    const root = new RangeError('out of range');
    const middle = Object.assign(new Error('read failed', { cause: root }), { code: 'EIO', details: { at: new Date(5) } });
    class TaskBoom extends Error {
      override name = 'TaskBoom';
      readonly attemptNo = 2;
    }
    const top = new TaskBoom('task exploded', { cause: middle });
    const back = roundTrip(top);
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe('TaskBoom');
    expect(back.message).toBe('task exploded');
    expect(back.stack).toBe(top.stack);
    expect((back as unknown as { attemptNo: number }).attemptNo).toBe(2);
    const backMiddle = back.cause as Error & { code: string; details: { at: Date } };
    expect(backMiddle).toMatchObject({ name: 'Error', message: 'read failed', code: 'EIO', stack: middle.stack });
    expect(backMiddle.details.at).toEqual(new Date(5));
    expect(backMiddle.cause).toBeInstanceOf(RangeError);
    expect((backMiddle.cause as Error).message).toBe('out of range');
    expect(Object.keys(back)).not.toContain('cause'); // like a native cause: not enumerable
  });

  it('keeps AggregateError.errors and a non-Error cause; survives an error that is its own cause', () => {
    const agg = new AggregateError([new Error('one'), new TypeError('two')], 'both failed', { cause: { status: 503 } });
    const back = roundTrip(agg);
    expect(back).toBeInstanceOf(AggregateError);
    expect(back.errors.map((e: Error) => `${e.name}:${e.message}`)).toEqual(['Error:one', 'TypeError:two']);
    expect(back.cause).toEqual({ status: 503 });
    const loop = new Error('loop');
    loop.cause = loop;
    expect(roundTrip(loop).message).toBe('loop');
  });

  it('refuses what it cannot store, naming where it is', () => {
    expect(thrown(() => serializeValue({ fn: () => 1 }))).toMatchObject({ path: '$.fn' });
    expect(thrown(() => serializeValue({ list: [1, Symbol('s')] })).path).toBe('$.list[1]');
    expect(thrown(() => serializeValue({ p: Promise.resolve(1) })).message).toMatch(/a Promise \(await it first\) \(at \$\.p\)/);
    expect(thrown(() => serializeValue(new Map([['k', new WeakMap()]]))).path).toBe('$.k');
    expect(thrown(() => serializeValue({ [Symbol('k')]: 1 })).message).toMatch(/symbol keys/);
    expect(thrown(() => serializeValue(new Error('x', { cause: () => 1 }))).path).toBe('$.cause');
  });

  it('refuses __proto__, constructor and prototype keys on write', () => {
    const crafted = JSON.parse('{"a":{"__proto__":{"polluted":true}}}') as unknown;
    expect(thrown(() => serializeValue(crafted))).toMatchObject({ path: '$.a.__proto__' });
    expect(thrown(() => serializeValue({ constructor: { prototype: { polluted: true } } })).path).toBe('$.constructor');
    expect(thrown(() => serializeValue({ x: [{ prototype: 1 }] })).message).toMatch(
      /Cannot store a value with the key 'prototype' \(at \$\.x\[0\]\.prototype\).*Rename the key\. Nothing was written\./,
    );
  });

  describe('refuses prototype-polluting payloads on read, and Object.prototype stays clean', () => {
    const payloads: Record<string, string> = {
      'top-level __proto__': '{"json":{"__proto__":{"polluted":true}}}',
      'nested __proto__': '{"json":{"a":[{"b":{"__proto__":{"polluted":true}}}]}}',
      'constructor.prototype': '{"json":{"constructor":{"prototype":{"polluted":true}}}}',
      'a superjson path through __proto__': '{"json":{"a":1},"meta":{"values":{"__proto__.polluted":["undefined"]},"v":1}}',
      'a referential-equality path through prototype': '{"json":{"a":{}},"meta":{"referentialEqualities":{"a":["constructor.prototype"]},"v":1}}',
      'inside a stored error cause':
        '{"json":{"name":"Error","message":"m","cause":{"json":{"__proto__":{"polluted":true}}}},"meta":{"values":[["custom","taskmachine:Error"]],"v":1}}',
      'a path through __proto__ in the annotations of an error cause':
        '{"json":{"name":"Error","message":"m","cause":{"json":{"a":"x"},"meta":{"values":{"__proto__.polluted":["undefined"]},"v":1}}},"meta":{"values":[["custom","taskmachine:Error"]],"v":1}}',
    };
    for (const [name, payload] of Object.entries(payloads)) {
      it(name, () => {
        const error = thrown(() => deserializeValue(payload));
        expect(error.message).toMatch(/Refused to read a stored payload: it contains the key '(__proto__|constructor|prototype)'/);
        expect(error.message).toMatch(/could pollute Object\.prototype/);
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('polluted');
      });
    }
  });

  it('says clearly when a payload is not JSON or not in the store format', () => {
    expect(thrown(() => deserializeValue('{not json')).message).toMatch(/not valid JSON/);
    expect(thrown(() => deserializeValue('[1,2]')).message).toMatch(/not in the store format/);
    expect(thrown(() => deserializeValue('{"json":1,"meta":{"values":["no-such-type"],"v":1}}')).message).toMatch(
      /cannot be read: Unknown transformation/,
    );
  });

  it('returns a fresh value on every read', () => {
    const text = serializeValue({ list: [1] });
    const one = deserializeValue<{ list: number[] }>(text);
    one.list.push(2);
    expect(deserializeValue(text)).toEqual({ list: [1] });
  });
});

describe('inputFingerprint', () => {
  it('is a sha256 hex digest that ignores object key order', () => {
    const fp = inputFingerprint({ day: '2026-11-22', full: true });
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(inputFingerprint({ full: true, day: '2026-11-22' })).toBe(fp);
    expect(inputFingerprint({ nested: { b: 1, a: [new Date(0), 2n] } })).toBe(inputFingerprint({ nested: { a: [new Date(0), 2n], b: 1 } }));
  });

  it('is stable across releases (stored fingerprints must keep matching)', () => {
    expect(inputFingerprint({ day: '2026-11-22', full: true })).toBe('97a0927e84996b43a7790e28ab72e4559a3c42efbba18feb098a5af5c64dc6ba');
  });

  it('tells types and orders apart', () => {
    const distinct = [
      undefined,
      null,
      1,
      '1',
      1n,
      [1, 2],
      [2, 1],
      new Date(0),
      new Date(0).toISOString(),
      new Set([1]),
      [1],
      new Map([['a', 1]]),
      { a: 1 },
      { a: undefined },
      {},
    ].map(inputFingerprint);
    expect(new Set(distinct).size).toBe(distinct.length);
  });

  it('treats shared references as copies', () => {
    const shared = { n: 1 };
    expect(inputFingerprint({ p: shared, q: shared })).toBe(inputFingerprint({ q: { n: 1 }, p: { n: 1 } }));
  });

  it('refuses inputs that cannot be stored', () => {
    expect(thrown(() => inputFingerprint({ cb: () => 1 })).path).toBe('$.cb');
  });
});

describe('types shared with the runtime and the machines', () => {
  it("StoredFailureKind is the runtime's FailureKind", () => {
    expectTypeOf<StoredFailureKind>().toEqualTypeOf<FailureKind>();
  });

  it('a task-instance record carries the whole machine context', () => {
    expectTypeOf<Pick<TaskInstanceWrite, keyof TaskInstanceContext>>().toExtend<Readonly<TaskInstanceContext>>();
    expectTypeOf<Readonly<TaskInstanceContext>>().toExtend<Pick<TaskInstanceWrite, keyof TaskInstanceContext>>();
  });

  it("a child's call input and custom context have the runtime instance's types", () => {
    type CallFields = 'callInput' | 'customContext';
    expectTypeOf<Pick<TaskInstanceWrite, CallFields>>().toEqualTypeOf<Readonly<Pick<TaskInstance, CallFields>>>();
  });
});
