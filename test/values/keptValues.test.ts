// No task can change what another sees, the caller's input, or the stored input; listeners get
// frozen records; values that cannot be stored are refused where they are handed over.
import { describe, expect, it } from 'vitest';
import { ctx, defineDecorator, flow, runFlow, startFlow, TaskCheckpointed, UnstorableValueError } from '../../src/index.ts';
import { memoryStore, StoreSerializationError } from '../../src/stores/index.ts';

/** A flow whose tasks try to change their input and an upstream value, and report what happened. */
function meddlingFlow() {
  return flow('meddling', (f) => {
    const make = f.task('make', () => ({ list: [1, 2], nested: { n: 1 }, tags: new Set(['a']), byId: new Map([['x', 1]]) }));
    f.task('changeInput', ({ input }) => attempts({
      set: () => ((input as { day: string }).day = 'changed'),
      push: () => (input as { list: number[] }).list.push(9),
    }));
    f.task('changeUpstream', ({ upstream }) => {
      const value = upstream.make as { list: number[]; nested: { n: number }; tags: Set<string>; byId: Map<string, number> };
      return attempts({
        push: () => value.list.push(3),
        nested: () => (value.nested.n = 2),
        setAdd: () => value.tags.add('b'),
        mapSet: () => value.byId.set('y', 2),
      });
    }, { after: [make] });
    f.task('reads', ({ upstream }) => upstream.make, { after: [make, 'changeUpstream'] });
  });
}

/** Runs each change and says which ones threw (a frozen value refuses them). */
function attempts(changes: Record<string, () => unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, change] of Object.entries(changes)) {
    try {
      change();
      out[name] = 'changed';
    } catch (error) {
      out[name] = (error as Error).constructor.name;
    }
  }
  return out;
}

describe.each([
  ['without a store', () => undefined],
  ['with a store', () => memoryStore()],
])('values tasks receive, %s', (_name, makeStore) => {
  it('input and upstream values cannot be changed by a task; the caller’s object and what downstream sees stay as they were', async () => {
    const store = makeStore();
    const input = { day: '2026-12-02', list: [1] };
    const run = await runFlow(meddlingFlow(), { input, log: () => {}, ...(store ? { store, runId: 'r' } : {}) });
    expect(run.state).toBe('success');
    expect(run.tasks['changeInput']!.result).toEqual({ set: 'TypeError', push: 'TypeError' });
    expect(input).toEqual({ day: '2026-12-02', list: [1] });
    expect(Object.isFrozen(input)).toBe(false);
    const refused = run.tasks['changeUpstream']!.result as Record<string, string>;
    expect(refused['push']).toBe('TypeError');
    expect(refused['nested']).toBe('TypeError');
    // immer's freeze makes a frozen Map's and Set's mutators throw (an Error, not a TypeError).
    expect(refused['setAdd']).not.toBe('changed');
    expect(refused['mapSet']).not.toBe('changed');
    expect(run.tasks['reads']!.result).toEqual({ list: [1, 2], nested: { n: 1 }, tags: new Set(['a']), byId: new Map([['x', 1]]) });
    if (store) expect((await store.loadRun('r'))!.run.input).toEqual({ day: '2026-12-02', list: [1] });
  });
});

describe('what a run keeps', () => {
  it('without a store, instances of your classes pass by reference and are not frozen (a client object keeps working)', async () => {
    class Client {
      calls = 0;
      call() {
        return ++this.calls;
      }
    }
    const client = new Client();
    const run = await runFlow(flow('client', (f) => {
      f.task('use', ({ input }) => (input as { client: Client }).client.call());
    }), { input: { client }, log: () => {} });
    expect(run.tasks['use']!.result).toBe(1);
    expect(client.calls).toBe(1);
  });

  it('with a store, a downstream task sees what a resumed one would: the value as stored (a class instance comes back as plain data)', async () => {
    class Point {
      readonly x: number;
      constructor(x: number) {
        this.x = x;
      }
      get double() {
        return this.x * 2;
      }
    }
    const run = await runFlow(flow('points', (f) => {
      const make = f.task('make', () => new Point(2));
      f.task('see', ({ upstream }) => ({ isPoint: upstream.make instanceof Point, value: upstream.make }), { after: [make] });
    }), { store: memoryStore(), runId: 'r', log: () => {} });
    expect(run.tasks['see']!.result).toEqual({ isPoint: false, value: { x: 2 } });
  });

  it('listeners get frozen records: one listener cannot change what another sees', async () => {
    const seen: string[] = [];
    const changer = {
      onTaskInstanceSuccess(args: { taskInstance: { state: string } }) {
        (args.taskInstance as { state: string }).state = 'failed';
      },
    };
    const reader = {
      onTaskInstanceSuccess(args: { taskInstance: { state: string } }) {
        seen.push(args.taskInstance.state);
      },
    };
    const logged: string[] = [];
    await runFlow(flow('listened', (f) => {
      f.task('a', () => 1);
    }), { listeners: [changer, reader], log: (line) => logged.push(line) });
    expect(seen).toEqual(['success']);
    expect(logged.join('\n')).toMatch(/error calling listener for hook 'onTaskInstanceSuccess': TypeError: Cannot assign to read only property 'state'/);
  });

  it('a result a decorator substitutes is kept like any result: one that cannot be stored fails the attempt', async () => {
    const substitute = defineDecorator({
      name: 'substitute',
      defaults: {},
      hooks: { onAttemptSettled: () => ({ value: { cb: () => 1 } }) },
    });
    const run = await runFlow(flow('decorated', (f) => {
      f.task('a', () => 1, { decorators: [substitute()] });
    }), { store: memoryStore(), runId: 'r', log: () => {} });
    expect(run.tasks['a']).toMatchObject({ state: 'failed', attempts: 1 });
    expect(run.tasks['a']!.error).toBeInstanceOf(UnstorableValueError);
    expect(run.tasks['a']!.error!.message).toMatch(/^task instance 'a' returned a value that cannot be stored: \$\.cb: a function cannot be stored/);
  });

  it('checkpoint data that cannot be stored fails the attempt without a retry, naming the path', async () => {
    const run = await runFlow(flow('checkpointing', (f) => {
      f.task('a', () => {
        throw new TaskCheckpointed({ cursor: Symbol('here') });
      }, { retries: 2 }); // retries: 2 shows no retry is used
    }), { store: memoryStore(), runId: 'r', log: () => {} });
    expect(run.tasks['a']).toMatchObject({ state: 'failed', attempts: 1 });
    expect(run.tasks['a']!.error!.message).toMatch(/^task instance 'a' checkpointed data that cannot be stored: \$\.cursor: a symbol \(here\) cannot be stored/);
  });

  it('ctx().call with an input that cannot be stored rejects in the caller, naming the path', async () => {
    const run = await runFlow(flow('calling', (f) => {
      const child = f.subtask('child', ({ input }) => input);
      f.task('parent', async () => {
        try {
          await ctx()!.call(child, { f: () => 1 });
          return 'called';
        } catch (error) {
          return (error as Error).message;
        }
      });
    }), { store: memoryStore(), runId: 'r', log: () => {} });
    expect(run.tasks['parent']!.result).toMatch(/^the input of a ctx\(\)\.call from 'parent' cannot be stored: \$\.f: a function cannot be stored/);
  });

  it('sendEvent with a payload that cannot be stored throws and changes nothing', async () => {
    const store = memoryStore();
    let deferred!: () => void;
    const waiting = new Promise<void>((resolve) => (deferred = resolve));
    const handle = startFlow(flow('events', (f) => {
      f.task('wait', () => {
        if (ctx()!.event === undefined) {
          deferred();
          ctx()!.defer({ event: true });
        }
        return ctx()!.event;
      });
    }), { store, runId: 'r', log: () => {} });
    await waiting;
    await handle.persisted();
    expect(() => handle.sendEvent('wait', { f: () => 1 })).toThrow(StoreSerializationError);
    expect(handle.snapshot().tasks['wait']!.state).toBe('deferred');
    handle.sendEvent('wait', { ok: true });
    const run = await handle.done;
    expect(run.tasks['wait']!.result).toEqual({ ok: true });
  });
});

describe('values too large to store', () => {
  // Over the 64 MiB a stored value may take: on SQLite such a value used to fail every commit it
  // was in, so the run stopped — and stopped again on each resume.
  const big = 'x'.repeat(65 * 1024 * 1024);

  it('a result or checkpoint data that large fails that attempt only; the run goes on and is stored', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { sqliteStore } = await import('../../src/stores/index.ts');
    const dir = mkdtempSync(join(tmpdir(), 'taskmachine-big-'));
    const store = sqliteStore({ path: join(dir, 'runs.db') });
    try {
      const run = await runFlow(flow('big', (f) => {
        f.task('result', () => big);
        f.task('nested', () => ({ rows: [big] }));
        f.task('checkpoint', () => {
          throw new TaskCheckpointed({ cursor: big });
        });
        f.task('sibling', () => 'fine');
      }), { store, runId: 'r', log: () => {} });
      expect(run.state).toBe('failed');
      expect(run.tasks['sibling']).toMatchObject({ state: 'success', result: 'fine' });
      for (const key of ['result', 'nested', 'checkpoint']) {
        expect(run.tasks[key]).toMatchObject({ state: 'failed', attempts: 1 });
        expect(run.tasks[key]!.error).toBeInstanceOf(UnstorableValueError);
        expect(run.tasks[key]!.error!.message).toMatch(/cannot be stored: \$: it takes 65 MiB stored, more than the 64 MiB one stored value may take\. Keep large data elsewhere \(a file, an object store\) and hand over where it is\./);
      }
      const stored = await store.loadRun('r');
      expect(stored!.run.state).toBe('failed');
      expect(stored!.instances.find((i) => i.key === 'sibling')!.state).toBe('success');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an error that large is stored cut, with its name: the attempt fails as it would have', async () => {
    const run = await runFlow(flow('loud', (f) => {
      f.task('a', () => {
        const error = new Error(big);
        error.name = 'LoudError';
        throw error;
      });
    }), { store: memoryStore(), runId: 'r', log: () => {} });
    const error = run.tasks['a']!.error!;
    expect(error.name).toBe('LoudError');
    expect(error.message.length).toBeLessThan(70 * 1024);
    expect(error.message).toMatch(/^x+… \(68,157,440 characters in all: cut to be stored\)$/);
  });
});

describe('values too large even to serialize', () => {
  it('a string whose stored form would pass the longest string V8 holds fails its attempt, it does not throw out of the run', async () => {
    const { KeptValues } = await import('../../src/runtime/values/keptValues.ts');
    const kept = new KeptValues(true).result('a', '"'.repeat(280_000_000));
    expect(kept.ok).toBe(false);
    expect(!kept.ok && kept.error.message).toMatch(/^task instance 'a' returned a value that cannot be stored: \$: it is too large to store/);
  });

  it('an error with a part that cannot be stored is also cut to be stored when it is too large', async () => {
    const { KeptValues } = await import('../../src/runtime/values/keptValues.ts');
    const error = Object.assign(new Error('x'.repeat(70 * 1024 * 1024)), { retry: () => 1 });
    const stored = new KeptValues(true).error(error);
    expect(stored.message.length).toBeLessThan(70 * 1024);
    expect(stored.message).toMatch(/… \(73,400,320 characters in all: cut to be stored\)$/);
  });
});
