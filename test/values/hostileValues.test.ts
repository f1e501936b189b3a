// No value a task returns or throws can stop a run: every hostile value below, returned or thrown
// by one instance of a 10-item map, fails that instance only (with an error that names it and the
// problem); its siblings succeed, the run finishes, and what is stored loads back cleanly.
import { describe, expect, it } from 'vitest';
import { flow, runFlow } from '../../src/index.ts';
import { memoryStore, sqliteStore, type Store } from '../../src/stores/index.ts';
import { recordProblems } from '../durability/fixtures/storeChecks.ts';

const throwingGetter = () => ({
  ok: 1,
  get bad(): number {
    throw new Error('getter says no');
  },
});
const ownProto = () => JSON.parse('{"a":1,"__proto__":{"polluted":true}}') as unknown;
const hostileProxy = () =>
  new Proxy({}, {
    get() {
      throw new Error('trap: get');
    },
    ownKeys() {
      throw new Error('trap: ownKeys');
    },
    getPrototypeOf() {
      throw new Error('trap: getPrototypeOf');
    },
  });
const thenTrap = () => ({
  get then(): unknown {
    throw new Error('then says no');
  },
});

/** Returned values that cannot be stored: [name, value, what the error must say]. */
const returned: Array<[string, () => unknown, RegExp]> = [
  ['a function', () => () => 1, /\$: a function.* cannot be stored/],
  ['a function inside', () => ({ cb: () => 1 }), /\$\.cb: a function cannot be stored/],
  ['a symbol', () => Symbol('s'), /\$: a symbol.* cannot be stored/],
  ['a symbol inside', () => ({ list: [1, Symbol('s')] }), /\$\.list\[1\]: a symbol.* cannot be stored/],
  ['a throwing getter', throwingGetter, /\$\.bad: a property whose getter throws \(Error: getter says no\) cannot be stored/],
  ['an own __proto__ key', ownProto, /\$\.__proto__: the key '__proto__' cannot be stored/],
  ['a Proxy whose traps throw', hostileProxy, /\$\.then: a property whose getter throws \(Error: trap: get\)/],
  ['an object whose then getter throws', thenTrap, /\$\.then: a property whose getter throws \(Error: then says no\)/],
  ['a Proxy whose ownKeys trap throws', () => new Proxy({}, { ownKeys() { throw new Error('trap: ownKeys'); } }), /\$: a value that throws when read \(Error: trap: ownKeys\)/],
  ['a Promise inside', () => ({ pending: Promise.resolve(1) }), /\$\.pending: a Promise \(await it first\) cannot be stored/],
];

/** Thrown values: [name, value, what the stored error's message must say]. */
const thrown: Array<[string, () => unknown, RegExp]> = [
  ['a function', () => function named() {}, /non-Error value thrown: a function \(named\)/],
  ['a symbol', () => Symbol('boom'), /non-Error value thrown: Symbol\(boom\)/],
  ['null', () => null, /non-Error value thrown: null/],
  ['undefined', () => undefined, /non-Error value thrown: undefined/],
  ['a throwing getter object', throwingGetter, /thrown/],
  ['an own __proto__ object', ownProto, /non-Error value thrown/],
  ['a Proxy whose traps throw', hostileProxy, /a Proxy was thrown/],
  ['an Error with a function property', () => Object.assign(new Error('with cb'), { cb: () => 1 }), /^with cb$/],
  ['an Error with a Proxy cause', () => new Error('with cause', { cause: hostileProxy() }), /^with cause$/],
  [
    'an Error whose message getter throws',
    () => {
      const error = new Error('x');
      Object.defineProperty(error, 'message', { get: () => { throw new Error('message says no'); } });
      return error;
    },
    /message says no/,
  ],
];

const stores: Array<[string, () => Store]> = [
  ['memoryStore', () => memoryStore()],
  ['sqliteStore', () => sqliteStore({ path: ':memory:' })],
];

function hostileFlow(hostile: () => unknown, how: 'return' | 'throw') {
  return flow('hostile', (f) => {
    const items = f.task('items', () => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // retries: 1 shows which failures are final: a value that cannot be stored fails without a
    // retry (it would come back the same); a thrown value is an ordinary, retried failure.
    const each = f.map('each', items, ({ item }) => {
      if (item !== 3) return (item as number) * 2;
      const value = hostile();
      if (how === 'throw') throw value;
      return value;
    }, { retries: 1 });
    f.task('after', ({ upstream }) => (upstream.each as unknown[]).filter((v) => v !== undefined).length, { after: [each], trigger: 'all_done' });
  });
}

describe.each(stores)('hostile values on %s', (_name, makeStore) => {
  it.each(returned)('returned: %s fails that instance only, without a retry, naming it and the path', async (_case, hostile, says) => {
    const store = makeStore();
    const run = await runFlow(hostileFlow(hostile, 'return'), { store, runId: 'r', log: () => {} });
    // The leaf ('after', trigger all_done) succeeded, so the run does (Airflow's rule).
    expect(run.state).toBe('success');
    const bad = run.tasks['each[3]']!;
    expect(bad).toMatchObject({ state: 'failed', attempts: 1, failureKind: 'application' });
    expect(bad.error!.name).toBe('UnstorableValueError');
    expect(bad.error!.message).toMatch(/^task instance 'each\[3\]' returned a value that cannot be stored: /);
    expect(bad.error!.message).toMatch(says);
    await expectSiblingsAndStore(store, run.tasks);
  });

  it.each(thrown)('thrown: %s is an ordinary failure of that instance', async (_case, hostile, says) => {
    const store = makeStore();
    const run = await runFlow(hostileFlow(hostile, 'throw'), { store, runId: 'r', log: () => {} });
    expect(run.state).toBe('success');
    expect(run.tasks['each[3]']).toMatchObject({ state: 'failed', attempts: 2, failureKind: 'application' });
    expect(run.tasks['each[3]']!.error!.message).toMatch(says);
    await expectSiblingsAndStore(store, run.tasks);
    const stored = (await store.loadRun('r'))!.instances.find((i) => i.key === 'each[3]')!;
    expect(stored.error!.message).toMatch(says);
  });
});

describe('hostile values without a store', () => {
  it.each(thrown)('thrown: %s fails that instance only', async (_case, hostile, says) => {
    const run = await runFlow(hostileFlow(hostile, 'throw'), { log: () => {} });
    expect(run.tasks['each[3]']).toMatchObject({ state: 'failed', attempts: 2 });
    expect(run.tasks['each[3]']!.error!.message).toMatch(says);
    for (const i of [0, 1, 2, 4, 5, 6, 7, 8, 9]) expect(run.tasks[`each[${i}]`]).toMatchObject({ state: 'success', result: i * 2 });
    expect(run.tasks['after']).toMatchObject({ state: 'success', result: 9 });
  });
});

async function expectSiblingsAndStore(store: Store, tasks: Readonly<Record<string, { state: string; result?: unknown }>>) {
  for (const i of [0, 1, 2, 4, 5, 6, 7, 8, 9]) expect(tasks[`each[${i}]`], `each[${i}]`).toMatchObject({ state: 'success', result: i * 2 });
  expect(tasks['after']).toMatchObject({ state: 'success', result: 9 });
  const loaded = (await store.loadRun('r'))!;
  expect(loaded.run).toMatchObject({ state: 'success' });
  expect(loaded.instances.find((i) => i.key === 'each[3]')).toMatchObject({ state: 'failed' });
  expect(await recordProblems(store, 'r')).toEqual([]);
}
