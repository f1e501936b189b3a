// ctx().call and task checkpoints (ChildCalls): what a call accepts, what it does with a child that
// exists already (same input: reused or joined; another input: run again, or refused while it
// still runs), a call or a save from an attempt that has ended, and the fencing of stored checkpoints.
import { describe, expect, it } from 'vitest';
import { ctx, flow, runFlow, startFlow, type TaskContext } from '../../src/index.ts';
import { memoryStore, type CheckpointWrite } from '../../src/stores/index.ts';

const quiet = { log: () => {} };

async function callError(call: () => Promise<unknown>): Promise<Error> {
  try {
    await call();
  } catch (error) {
    return error as Error;
  }
  throw new Error('the call did not fail');
}

describe('ctx().call: what it accepts', () => {
  it('anything but a task reference of this flow is refused with a TypeError naming it', async () => {
    let foreign!: Parameters<TaskContext['call']>[0];
    flow('other', (f) => {
      foreign = f.subtask('child', () => 'other flow');
    });
    const errors: Record<string, Error> = {};
    const run = await runFlow(
      flow('calls', (f) => {
        const child = f.subtask('child', () => 'mine');
        f.task('parent', async () => {
          const c = ctx()!;
          const call = c.call.bind(c) as (ref: unknown, input?: unknown) => Promise<unknown>;
          errors['string'] = await callError(() => call('child'));
          errors['null'] = await callError(() => call(null));
          errors['no id'] = await callError(() => call({ flowId: 'calls' }));
          errors['unknown id'] = await callError(() => call({ id: 'nope', flowId: 'calls' }));
          errors['other flow'] = await callError(() => call(foreign));
          return c.call(child);
        });
      }),
      quiet,
    );
    expect(run.tasks['parent']).toMatchObject({ state: 'success', result: 'mine' });
    const tail = "is not a task of flow 'calls'; pass a reference returned by f.task/f.subtask of this flow";
    expect(Object.fromEntries(Object.entries(errors).map(([k, e]) => [k, `${e.name}: ${e.message}`]))).toEqual({
      string: `TypeError: ctx().call: child ${tail}`,
      null: `TypeError: ctx().call: null ${tail}`,
      'no id': `TypeError: ctx().call: [object Object] ${tail}`,
      'unknown id': `TypeError: ctx().call: task 'nope' ${tail}`,
      'other flow': `TypeError: ctx().call: task 'child' ${tail}`,
    });
    // No child was made for a refused call; the one good call is parent/child#0.
    expect(Object.keys(run.tasks).sort()).toEqual(['parent', 'parent/child#0']);
  });

  it('a call from an attempt that has ended is refused and makes no child', async () => {
    let ended!: TaskContext;
    let childRuns = 0;
    let child!: Parameters<TaskContext['call']>[0];
    const definition = flow('late', (f) => {
      child = f.subtask('child', () => ++childRuns);
      f.task('parent', () => {
        ended = ctx()!;
        return 'done';
      });
    });
    const handle = startFlow(definition, quiet);
    await handle.done;
    const error = await callError(() => ended.call(child));
    expect(error.message).toBe("ctx().call('child'): the calling attempt of 'parent' has already ended");
    expect(childRuns).toBe(0);
    expect(handle.snapshot()).toMatchObject({ state: 'success' });
    expect(Object.keys(handle.snapshot().tasks)).toEqual(['parent']);
  });
});

describe('ctx().call: a child that exists already', () => {
  it('a retried parent calling with another input runs the finished child again, with that input', async () => {
    const inputs: unknown[] = [];
    let parentRuns = 0;
    const run = await runFlow(
      flow('rerun', (f) => {
        const upper = f.subtask('upper', ({ input }) => {
          inputs.push(input);
          return String(input).toUpperCase();
        });
        f.task('parent', async () => {
          parentRuns++;
          const value = await ctx()!.call(upper, parentRuns === 1 ? 'a' : 'b');
          if (parentRuns === 1) throw new Error('parent fails after its child succeeded');
          return value;
        }, { retries: 1 });
      }),
      quiet,
    );
    expect(inputs).toEqual(['a', 'b']);
    expect(run.tasks['parent']).toMatchObject({ state: 'success', result: 'B' });
    expect(run.tasks['parent/upper#0']).toMatchObject({ state: 'success', result: 'B', attempts: 2 });
  });

  it('while the child still runs, a call with the same input joins it and one with another input is refused', async () => {
    let releaseChild!: () => void;
    const childMayEnd = new Promise<void>((resolve) => (releaseChild = resolve));
    let childStarted!: () => void;
    const started = new Promise<void>((resolve) => (childStarted = resolve));
    const inputs: unknown[] = [];
    let parentRuns = 0;
    let refusal: Error | undefined;
    const handle = startFlow(
      flow('joins', (f) => {
        const slow = f.subtask('slow', async ({ input }) => {
          inputs.push(input);
          childStarted();
          await childMayEnd;
          return `slow ${String(input)}`;
        });
        f.task('parent', async () => {
          parentRuns++;
          if (parentRuns === 1) {
            // Attempt 1 starts its child and fails without awaiting it.
            void ctx()!.call(slow, 'x').catch(() => {});
            await started;
            throw new Error('attempt 1 gives up');
          }
          if (parentRuns === 2) {
            refusal = await callError(() => ctx()!.call(slow, 'y'));
            throw refusal;
          }
          // Attempt 3 calls with the input the running child has: it waits for that child.
          const joined = ctx()!.call(slow, 'x');
          releaseChild();
          return joined;
        }, { retries: 2 });
      }),
      quiet,
    );
    const run = await handle.done;
    expect(refusal?.message).toBe(
      "ctx().call('slow'): child 'parent/slow#0' is still running with another input; await each call before the next one of the same task when inputs depend on earlier attempts",
    );
    expect(inputs).toEqual(['x']);
    expect(run.tasks['parent']).toMatchObject({ state: 'success', result: 'slow x', attempts: 3 });
    expect(run.tasks['parent/slow#0']).toMatchObject({ state: 'success', attempts: 1 });
    expect(Object.keys(run.tasks).sort()).toEqual(['parent', 'parent/slow#0']);
  });
});

describe('task checkpoints', () => {
  it('a save from an attempt that has ended is ignored and logged; the next attempt loads what its predecessor saved', async () => {
    const store = memoryStore();
    const lines: string[] = [];
    let first!: TaskContext;
    const handle = startFlow(
      flow('saves', (f) => {
        f.task('t', async () => {
          const c = ctx()!;
          if (c.attempt === 1) {
            first = c;
            await c.checkpoint.save('from attempt 1');
            throw new Error('attempt 1 fails');
          }
          await first.checkpoint.save('late save from attempt 1');
          return `attempt 2 loaded ${String(await c.checkpoint.load())}`;
        }, { retries: 1 });
      }),
      { store, runId: 'r', log: (line: string) => lines.push(line) },
    );
    const run = await handle.done;
    expect(run.tasks['t']).toMatchObject({ state: 'success', result: 'attempt 2 loaded from attempt 1' });
    expect(lines).toContain('[t#1] checkpoint.save ignored: the attempt has already ended');
    expect((await store.loadCheckpoint('r', 't'))?.value).toBe('from attempt 1');
  });

  it('a stored checkpoint carries the run’s lease token (a process that lost the run cannot overwrite it)', async () => {
    const store = memoryStore();
    const saves: CheckpointWrite[] = [];
    const save = store.saveCheckpoint.bind(store);
    store.saveCheckpoint = (checkpoint) => {
      saves.push(checkpoint);
      return save(checkpoint);
    };
    const handle = startFlow(
      flow('fenced', (f) => {
        f.task('t', async () => {
          await ctx()!.checkpoint.save({ page: 1 });
          return 'ok';
        });
      }),
      { store, runId: 'r', ...quiet },
    );
    await handle.ready();
    const { token } = (await store.getLease('r'))!;
    await handle.done;
    expect(saves).toHaveLength(1);
    expect(saves[0]).toMatchObject({ runId: 'r', key: 't', value: { page: 1 }, leaseToken: token });
    expect(typeof token).toBe('number');
  });
});
